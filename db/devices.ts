/**
 * The device registry in MongoDB. The document shape is shared: the gateway
 * writes `online`, `lastSeenAt`, `firmwareVersion` and `versionReportedAt` on
 * the same documents and the orchestration reads them, so this module only
 * ever `$set`s the fields the API owns.
 */
import { randomBytes } from 'node:crypto';
import { MongoBulkWriteError, type Collection, type Db, type Filter } from 'mongodb';
import { conflict, notFound, type ErrorDetail } from '../domain/errors';
import { attrPairs, tagPair, tagPairs } from '../domain/keys';
import type { Device, Scalar } from '../domain/types';
import type { DeviceInput, DevicePatch } from '../domain/validation/registry';
import { isDuplicateKey } from './mongo';
import { keysetPage, type Page } from './paging';

export const DEVICES = 'devices';

/**
 * A device document's `_id` is derived from its identity: FerretDB 1.24 on
 * SQLite answers only an exact `_id` filter from an index, and the gateway,
 * the API and the workflows look devices up by identity all the time (a
 * `{productKey, deviceKey}` filter reads the whole registry there).
 */
export function deviceDocId(productKey: string, deviceKey: string): string {
  return `${productKey}\u001f${deviceKey}`;
}

/** The filter that finds one device by identity, from an index on any MongoDB-compatible server. */
export const byIdentity = (d: { productKey: string; deviceKey: string }): { _id: string } => ({
  _id: deviceDocId(d.productKey, d.deviceKey),
});

export interface DeviceDoc {
  _id: string;
  productKey: string;
  deviceKey: string;
  deviceSecret: string;
  name: string;
  tags: Record<string, string>;
  /** `key \u001f value` per tag: the indexable, FerretDB-queryable form of `tags`. */
  tagPairs: string[];
  attributes: Record<string, Scalar>;
  /** `name \u001f JSON(value)` per attribute. */
  attrPairs: string[];
  firmwareVersion?: string;
  versionReportedAt?: Date;
  online: boolean;
  /** The gateway holding the device's session, written with `online` (db/device-presence.ts); null once offline. */
  gatewayId?: string | null;
  lastSeenAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The fields a reader may see: never the secret, never the index helpers. */
export const PUBLIC_PROJECTION = { _id: 0, deviceSecret: 0, tagPairs: 0, attrPairs: 0, versionReportedAt: 0 } as const;

export const devices = (db: Db): Collection<DeviceDoc> => db.collection<DeviceDoc>(DEVICES);

export function toDevice(doc: Omit<DeviceDoc, 'deviceSecret' | 'tagPairs' | 'attrPairs'>): Device {
  return {
    productKey: doc.productKey,
    deviceKey: doc.deviceKey,
    name: doc.name,
    tags: doc.tags ?? {},
    attributes: doc.attributes ?? {},
    ...(doc.firmwareVersion !== undefined && doc.firmwareVersion !== null
      ? { firmwareVersion: doc.firmwareVersion }
      : {}),
    online: doc.online === true,
    ...(doc.lastSeenAt ? { lastSeenAt: doc.lastSeenAt.toISOString() } : {}),
    createdAt: doc.createdAt.toISOString(),
  };
}

/** EnOS-style secret of a device or a product: 32 URL-safe characters from the OS CSPRNG. */
export function generateSecret(): string {
  return randomBytes(24).toString('base64url');
}

export function newDeviceDoc(input: DeviceInput, now: Date): DeviceDoc {
  const tags = input.tags ?? {};
  const attributes = input.attributes ?? {};
  return {
    _id: deviceDocId(input.productKey, input.deviceKey),
    productKey: input.productKey,
    deviceKey: input.deviceKey,
    deviceSecret: input.deviceSecret ?? generateSecret(),
    name: input.name ?? input.deviceKey,
    tags,
    tagPairs: tagPairs(tags),
    attributes,
    attrPairs: attrPairs(attributes),
    ...(input.firmwareVersion !== undefined ? { firmwareVersion: input.firmwareVersion } : {}),
    online: false,
    lastSeenAt: null,
    createdAt: now,
    updatedAt: now,
  };
}

/** Registers one device; 409 when (productKey, deviceKey) exists. Returns it with its secret. */
export async function insertDevice(db: Db, input: DeviceInput): Promise<Device & { deviceSecret: string }> {
  const doc = newDeviceDoc(input, new Date());
  try {
    await devices(db).insertOne({ ...doc });
  } catch (err) {
    if (isDuplicateKey(err)) throw conflict(`device ${doc.productKey}/${doc.deviceKey} already exists`);
    throw err;
  }
  return { ...toDevice(doc), deviceSecret: doc.deviceSecret };
}

export interface BatchFailure {
  index: number;
  error: { code: 'invalid_request' | 'conflict'; message: string; details: ErrorDetail[] };
}

/**
 * Inserts valid devices in one unordered insertMany: every insert is tried,
 * the unique index decides races with concurrent batches, and each
 * duplicate-key error is reported at its position in the caller's list.
 * `docs[i].index` is that position.
 */
export async function insertDeviceBatch(
  db: Db,
  docs: readonly { index: number; doc: DeviceDoc }[],
): Promise<{ created: number; failed: BatchFailure[]; createdProducts: Set<string> }> {
  if (docs.length === 0) return { created: 0, failed: [], createdProducts: new Set() };
  const failedAt = new Map<number, BatchFailure>();
  try {
    // Copies: the driver may add fields to what it inserts.
    await devices(db).insertMany(
      docs.map((d) => ({ ...d.doc })),
      { ordered: false },
    );
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError)) throw err;
    const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    for (const we of writeErrors) {
      const item = docs[we.index];
      if (!item) throw err;
      if (we.code !== 11000) throw err;
      failedAt.set(we.index, {
        index: item.index,
        error: {
          code: 'conflict',
          message: `device ${item.doc.productKey}/${item.doc.deviceKey} already exists`,
          details: [{ path: `/devices/${item.index}/deviceKey`, message: 'already registered' }],
        },
      });
    }
  }
  const createdProducts = new Set<string>();
  docs.forEach((d, i) => {
    if (!failedAt.has(i)) createdProducts.add(d.doc.productKey);
  });
  return { created: docs.length - failedAt.size, failed: [...failedAt.values()], createdProducts };
}

export async function getDevice(db: Db, productKey: string, deviceKey: string): Promise<Device | null> {
  const doc = await devices(db).findOne(byIdentity({ productKey, deviceKey }), { projection: PUBLIC_PROJECTION });
  return doc ? toDevice(doc) : null;
}

export async function requireDevice(db: Db, productKey: string, deviceKey: string): Promise<Device> {
  const device = await getDevice(db, productKey, deviceKey);
  if (!device) throw notFound(`device ${productKey}/${deviceKey} does not exist`);
  return device;
}

/** Replaces the given fields (tags and attributes as a whole, with their pairs). */
export async function patchDevice(db: Db, productKey: string, deviceKey: string, patch: DevicePatch): Promise<Device> {
  const set: Partial<DeviceDoc> = { updatedAt: new Date() };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.tags !== undefined) Object.assign(set, { tags: patch.tags, tagPairs: tagPairs(patch.tags) });
  if (patch.attributes !== undefined) {
    Object.assign(set, { attributes: patch.attributes, attrPairs: attrPairs(patch.attributes) });
  }
  const doc = await devices(db).findOneAndUpdate(
    byIdentity({ productKey, deviceKey }),
    { $set: set },
    // No projection: FerretDB's findAndModify lacks it; toDevice picks the public fields anyway.
    { returnDocument: 'after' },
  );
  if (!doc) throw notFound(`device ${productKey}/${deviceKey} does not exist`);
  return toDevice(doc);
}

export async function deleteDevice(db: Db, productKey: string, deviceKey: string): Promise<Device> {
  const doc = await devices(db).findOneAndDelete(byIdentity({ productKey, deviceKey }));
  if (!doc) throw notFound(`device ${productKey}/${deviceKey} does not exist`);
  return toDevice(doc);
}

export interface DeviceListQuery {
  productKey?: string;
  version?: string;
  /** All must match. */
  tags?: { key: string; value: string }[];
  online?: boolean;
  limit: number;
  cursor?: string;
}

const LIST_SORT = ['productKey', 'deviceKey'] as const;

/** One page in (productKey, deviceKey) order. */
export async function listDevices(db: Db, q: DeviceListQuery): Promise<Page<Device>> {
  const clauses: Filter<DeviceDoc>[] = [];
  if (q.productKey !== undefined) clauses.push({ productKey: q.productKey });
  if (q.version !== undefined) clauses.push({ firmwareVersion: q.version });
  if (q.tags && q.tags.length > 0) clauses.push({ tagPairs: { $all: q.tags.map((t) => tagPair(t.key, t.value)) } });
  if (q.online !== undefined) clauses.push({ online: q.online });
  return keysetPage(
    devices(db),
    { clauses, keys: LIST_SORT, projection: PUBLIC_PROJECTION, limit: q.limit, cursor: q.cursor },
    toDevice,
  );
}

/**
 * Which of these device keys of a product are registered. A short list is one
 * `$in` query; a long one (a big asset tree) streams the product's keys once
 * and intersects, which is one pass on FerretDB too (it has no `$in` pushdown).
 */
export async function existingDeviceKeys(
  db: Db,
  productKey: string,
  deviceKeys: readonly string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  const IN_LIMIT = 1000;
  const projection = { _id: 0, deviceKey: 1 };
  if (deviceKeys.length <= IN_LIMIT) {
    const docs = await devices(db)
      .find({ productKey, deviceKey: { $in: [...deviceKeys] } }, { projection })
      .toArray();
    for (const d of docs) found.add(d.deviceKey);
    return found;
  }
  const wanted = new Set(deviceKeys);
  for await (const d of devices(db).find({ productKey }, { projection, batchSize: 5000 })) {
    if (wanted.has(d.deviceKey)) found.add(d.deviceKey);
  }
  return found;
}
