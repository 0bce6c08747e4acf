/**
 * Keyset pagination shared by the registry lists: a stable sort on unique
 * key fields and an opaque cursor holding the last row's keys, so a page
 * costs the same however deep it is and concurrent inserts never shift it.
 */
import type { Collection, Document, Filter, WithId } from 'mongodb';
import { invalid } from '../domain/errors';

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 100;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** base64url(JSON) of the last row's key values: opaque to clients, trivial to check. */
export function encodeCursor(values: readonly string[]): string {
  return Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
}

/** A 400 naming the parameter: the cursor is not one of ours. */
export const invalidCursor = (param = 'query.cursor') =>
  invalid('invalid cursor', [{ path: param, message: 'is not a cursor returned by this list' }]);

/** The key values in a cursor, or a 400 naming the parameter when it is not one of ours. */
export function decodeCursor(cursor: string, arity: number, param = 'query.cursor'): string[] {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    values = undefined;
  }
  if (!Array.isArray(values) || values.length !== arity || !values.every((v) => typeof v === 'string')) {
    throw invalidCursor(param);
  }
  return values as string[];
}

/** One key value of a list cursor: base64url text, where every string of these characters decodes. */
export const CURSOR_SEGMENT = '[A-Za-z0-9_-]*';

/**
 * The exact shape of a list cursor with these segments (default: `arity`
 * base64url segments joined by "."). Every string of this shape names a
 * position in the list ("after these keys"), so the API's documented
 * pattern and what it accepts are the same set.
 */
export function listCursorPattern(segments: readonly string[]): string {
  return `^${segments.join('\\.')}$`;
}

export function encodeListCursor(values: readonly string[]): string {
  return values.map((v) => Buffer.from(v, 'utf8').toString('base64url')).join('.');
}

/** The key values of a list cursor; a 400 naming the parameter when it does not have the shape. */
export function decodeListCursor(cursor: string, arity: number, param = 'query.cursor'): string[] {
  const parts = cursor.split('.');
  if (parts.length !== arity || !parts.every((p) => new RegExp(`^${CURSOR_SEGMENT}$`).test(p))) {
    throw invalidCursor(param);
  }
  return parts.map((p) => Buffer.from(p, 'base64url').toString('utf8'));
}

/**
 * The filter for "rows after these key values" in the sort order of `fields`
 * (all ascending): (a > x) or (a = x and b > y) …
 */
export function afterKeys(fields: readonly string[], values: readonly string[]): Record<string, unknown> {
  const branches = fields.map((field, i) => {
    const clause: Record<string, unknown> = {};
    for (let j = 0; j < i; j += 1) clause[fields[j]] = values[j];
    clause[field] = { $gt: values[i] };
    return clause;
  });
  return branches.length === 1 ? branches[0] : { $or: branches };
}

/**
 * One page of `collection` in ascending order of `keys` (unique together):
 * the clauses ANDed with "after the cursor", and one row more than the page
 * to tell whether another follows, so the last page never points to an empty one.
 */
export async function keysetPage<TDoc extends Document, TItem>(
  collection: Collection<TDoc>,
  q: { clauses: Filter<TDoc>[]; keys: readonly string[]; projection: Document; limit: number; cursor?: string },
  view: (doc: WithId<TDoc>) => TItem,
): Promise<Page<TItem>> {
  const clauses = [...q.clauses];
  if (q.cursor !== undefined) {
    clauses.push(afterKeys(q.keys, decodeListCursor(q.cursor, q.keys.length)) as Filter<TDoc>);
  }
  const filter = (clauses.length === 0 ? {} : clauses.length === 1 ? clauses[0] : { $and: clauses }) as Filter<TDoc>;
  const docs = await collection
    .find(filter, { projection: q.projection })
    .sort(Object.fromEntries(q.keys.map((k) => [k, 1 as const])))
    .limit(q.limit + 1)
    .toArray();
  const page = docs.slice(0, q.limit);
  const last = page[page.length - 1] as Record<string, unknown> | undefined;
  return {
    items: page.map(view),
    nextCursor: docs.length > q.limit && last ? encodeListCursor(q.keys.map((k) => String(last[k]))) : null,
  };
}
