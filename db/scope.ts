/**
 * Scope resolution against the registry: the MongoDB filter for a task's
 * scope, and a resumable page function so a 100,000-device scope is read a
 * page at a time (never the fleet in memory) and a workflow can carry the
 * plain-string cursor across continue-as-new.
 *
 * Pages are in deviceKey order within the product (the unique index's
 * order). When the filter names device keys (deviceKeys, or asset trees
 * resolved to device keys) the sorted key list is walked in chunks, so no
 * query ever carries the whole list.
 */
import type { Db, Filter } from 'mongodb';
import { attrPair, tagPair } from '../domain/keys';
import { compareKeys, deviceMatchesScope, needsTrees, type ScopeDevice, type ScopeSpec } from '../domain/scope';
import type { Device } from '../domain/types';
import { treeDeviceKeysFor } from './asset-trees';
import { devices, PUBLIC_PROJECTION, toDevice, type DeviceDoc } from './devices';
import { decodeCursor, encodeCursor } from './paging';

/** Keys per `$in` query when walking a key list. */
const KEY_CHUNK = 2000;

export interface ScopePage {
  devices: Device[];
  /** Pass back to get the next page; null when the scope is exhausted. */
  cursor: string | null;
}

/**
 * The device keys the filter restricts the scope to (deviceKeys ∩ asset-tree
 * devices), sorted; undefined when it names none, i.e. any key may match.
 */
export function scopeKeyList(spec: ScopeSpec, treeDeviceKeys?: readonly string[]): string[] | undefined {
  if (spec.scope !== 'target') return undefined;
  const named = spec.filter?.deviceKeys;
  if (named === undefined && treeDeviceKeys === undefined) return undefined;
  let keys = named ?? (treeDeviceKeys as readonly string[]);
  if (named !== undefined && treeDeviceKeys !== undefined) {
    const inTrees = new Set(treeDeviceKeys);
    keys = named.filter((k) => inTrees.has(k));
  }
  return [...new Set(keys)].sort(compareKeys);
}

/**
 * The MongoDB filter for "devices in scope": product, a source version and,
 * with scope `target`, every filter kind (AND). Device-key restrictions
 * (deviceKeys, asset trees) are ANDed in as `deviceKey: {$in}`, from
 * `treeDeviceKeys` as resolved by treeDeviceKeysFor / resolveTreeDeviceKeys.
 * Tag and attribute conditions use the flattened pairs (no `$elemMatch`:
 * FerretDB 1.24 lacks it), and user keys only ever appear as values.
 */
export function buildScopeQuery(spec: ScopeSpec, treeDeviceKeys?: readonly string[]): Filter<DeviceDoc> {
  const query: Filter<DeviceDoc> = {
    productKey: spec.productKey,
    firmwareVersion: { $in: [...spec.sourceVersions] },
  };
  if (spec.scope !== 'target') return query;
  if (needsTrees(spec) && treeDeviceKeys === undefined) {
    throw new Error('buildScopeQuery: the filter names asset trees: pass treeDeviceKeys');
  }
  const keys = scopeKeyList(spec, treeDeviceKeys);
  if (keys !== undefined) query.deviceKey = { $in: keys };
  const tags = spec.filter?.tags ?? [];
  if (tags.length > 0) query.tagPairs = { $all: tags.map((t) => tagPair(t.key, t.value)) };
  const attributes = spec.filter?.attributes ?? [];
  if (attributes.length > 0) query.attrPairs = { $all: attributes.map((a) => attrPair(a.name, a.value)) };
  return query;
}

/** First index in sorted `keys` whose key is greater than `after`. */
function firstAfter(keys: readonly string[], after: string | undefined): number {
  if (after === undefined) return 0;
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

async function findSorted(db: Db, query: Filter<DeviceDoc>, limit: number): Promise<DeviceDoc[]> {
  return devices(db).find(query, { projection: PUBLIC_PROJECTION }).sort({ deviceKey: 1 }).limit(limit).toArray();
}

/**
 * The next page of at most `limit` devices in scope after `cursor` (null for
 * the first page). Resolves the asset trees itself unless the caller passes
 * `treeDeviceKeys` (scanScope resolves them once per scan).
 */
export async function nextScopePage(
  db: Db,
  spec: ScopeSpec,
  cursor: string | null,
  limit: number,
  resolved: { treeDeviceKeys?: string[] } = {},
): Promise<ScopePage> {
  if (!Number.isInteger(limit) || limit < 1)
    throw new Error(`nextScopePage: limit must be a positive integer, got ${limit}`);
  const after = cursor === null ? undefined : decodeCursor(cursor, 1, 'cursor')[0];
  const treeDeviceKeys =
    resolved.treeDeviceKeys ??
    (needsTrees(spec) ? await treeDeviceKeysFor(db, spec.productKey, spec.filter?.assetTrees) : undefined);
  const { deviceKey: _keys, ...base } = buildScopeQuery(spec, treeDeviceKeys);
  const keys = scopeKeyList(spec, treeDeviceKeys);

  if (keys === undefined) {
    const query: Filter<DeviceDoc> = after === undefined ? base : { ...base, deviceKey: { $gt: after } };
    const docs = await findSorted(db, query, limit + 1);
    const page = docs.slice(0, limit);
    const more = docs.length > limit;
    return { devices: page.map(toDevice), cursor: more ? encodeCursor([page[page.length - 1].deviceKey]) : null };
  }

  const found: Device[] = [];
  for (let pos = firstAfter(keys, after); pos < keys.length; pos += KEY_CHUNK) {
    const chunk = keys.slice(pos, pos + KEY_CHUNK);
    const need = limit - found.length;
    const docs = await findSorted(db, { ...base, deviceKey: { $in: chunk } }, need + 1);
    if (docs.length > need) {
      const page = docs.slice(0, need);
      found.push(...page.map(toDevice));
      return { devices: found, cursor: encodeCursor([page[page.length - 1].deviceKey]) };
    }
    found.push(...docs.map(toDevice));
    const scanned = pos + chunk.length;
    if (found.length === limit) {
      // Everything up to the chunk's last key has been looked at.
      return { devices: found, cursor: scanned < keys.length ? encodeCursor([chunk[chunk.length - 1]]) : null };
    }
  }
  return { devices: found, cursor: null };
}

/**
 * Streams the whole scope through one server cursor, page by page, each page
 * with the cursor that resumes after it (nextScopePage or scanScope's
 * `after`); the last page carries null and may be empty. One query for the
 * whole scan matters on the embedded FerretDB, which sorts in memory: every
 * separate page query costs a pass over the product's devices there.
 * Long key lists (asset trees) are matched in memory instead of in `$in`.
 */
export async function* scanScope(
  db: Db,
  spec: ScopeSpec,
  opts: { pageSize?: number; after?: string | null } = {},
): AsyncGenerator<ScopePage> {
  const pageSize = opts.pageSize ?? 500;
  const after = opts.after ? decodeCursor(opts.after, 1, 'cursor')[0] : undefined;
  const treeDeviceKeys = needsTrees(spec)
    ? await treeDeviceKeysFor(db, spec.productKey, spec.filter?.assetTrees)
    : undefined;
  const keys = scopeKeyList(spec, treeDeviceKeys);
  const { deviceKey: _keys, ...base } = buildScopeQuery(spec, treeDeviceKeys);
  const keyCondition: Record<string, unknown> = {};
  if (after !== undefined) keyCondition.$gt = after;
  if (keys !== undefined && keys.length <= KEY_CHUNK) keyCondition.$in = keys;
  const inMemory = keys !== undefined && keys.length > KEY_CHUNK ? new Set(keys) : undefined;
  const query: Filter<DeviceDoc> = Object.keys(keyCondition).length > 0 ? { ...base, deviceKey: keyCondition } : base;

  const cursor = devices(db).find(query, { projection: PUBLIC_PROJECTION }).sort({ deviceKey: 1 }).batchSize(pageSize);
  try {
    let page: Device[] = [];
    for await (const doc of cursor) {
      if (inMemory && !inMemory.has(doc.deviceKey)) continue;
      page.push(toDevice(doc));
      if (page.length === pageSize) {
        yield { devices: page, cursor: encodeCursor([doc.deviceKey]) };
        page = [];
      }
    }
    yield { devices: page, cursor: null };
  } finally {
    await cursor.close();
  }
}

/**
 * Whether one device is in scope now (e.g. when it reports a version or asks
 * for firmware), resolving the filter's asset trees from the database when
 * it names any. The device is what getDevice returns.
 */
export async function isDeviceInScope(db: Db, spec: ScopeSpec, device: ScopeDevice): Promise<boolean> {
  const treeDeviceKeys = needsTrees(spec)
    ? await treeDeviceKeysFor(db, spec.productKey, spec.filter?.assetTrees)
    : undefined;
  return deviceMatchesScope(device, spec, treeDeviceKeys);
}
