/**
 * The registry's indexes, created at API start (idempotent). They follow
 * the queries: device identity, scope resolution by product and reported
 * version, tag and attribute filters on their flattened (multikey) pairs,
 * firmware identity and version uniqueness, tree identity.
 */
import type { Db } from 'mongodb';
import { ASSET_TREES } from './asset-trees';
import { DEVICES } from './devices';
import { FIRMWARES } from './firmware';

/**
 * One index per call: FerretDB 1.24 panics (and drops the connection) when a
 * createIndexes call with several specs finds them all existing, which is
 * every start after the first.
 */
export async function createIndexesOneByOne(
  db: Db,
  collection: string,
  specs: Parameters<ReturnType<Db['collection']>['createIndexes']>[0],
): Promise<void> {
  for (const spec of specs) await db.collection(collection).createIndexes([spec]);
}

export async function ensureRegistryIndexes(db: Db): Promise<void> {
  await createIndexesOneByOne(db, DEVICES, [
    { key: { productKey: 1, deviceKey: 1 }, name: 'device_identity', unique: true },
    { key: { productKey: 1, firmwareVersion: 1 }, name: 'device_product_version' },
    { key: { tagPairs: 1 }, name: 'device_tag_pairs' },
    { key: { attrPairs: 1 }, name: 'device_attr_pairs' },
  ]);
  await createIndexesOneByOne(db, FIRMWARES, [
    { key: { firmwareId: 1 }, name: 'firmware_identity', unique: true },
    { key: { productKey: 1, version: 1 }, name: 'firmware_product_version', unique: true },
  ]);
  await createIndexesOneByOne(db, ASSET_TREES, [{ key: { treeId: 1 }, name: 'tree_identity', unique: true }]);
}
