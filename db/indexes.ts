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

export async function ensureRegistryIndexes(db: Db): Promise<void> {
  await db.collection(DEVICES).createIndexes([
    { key: { productKey: 1, deviceKey: 1 }, name: 'device_identity', unique: true },
    { key: { productKey: 1, firmwareVersion: 1 }, name: 'device_product_version' },
    { key: { tagPairs: 1 }, name: 'device_tag_pairs' },
    { key: { attrPairs: 1 }, name: 'device_attr_pairs' },
  ]);
  await db.collection(FIRMWARES).createIndexes([
    { key: { firmwareId: 1 }, name: 'firmware_identity', unique: true },
    { key: { productKey: 1, version: 1 }, name: 'firmware_product_version', unique: true },
  ]);
  await db.collection(ASSET_TREES).createIndexes([{ key: { treeId: 1 }, name: 'tree_identity', unique: true }]);
}
