/**
 * Asset trees in MongoDB: one document per tree holding its nodes. A PUT
 * replaces the whole tree after checking its structure and that every device
 * node names a registered device.
 */
import type { Collection, Db } from 'mongodb';
import type { ErrorDetail } from '../domain/errors';
import { notFound } from '../domain/errors';
import { resolveTreeDeviceKeys } from '../domain/scope';
import type { AssetTree, AssetTreeFilter, AssetTreeNode } from '../domain/types';
import { refusedByState } from '../domain/validation/compile';
import { existingDeviceKeys } from './devices';

export const ASSET_TREES = 'asset_trees';

export interface AssetTreeDoc {
  treeId: string;
  nodes: AssetTreeNode[];
  createdAt: Date;
  updatedAt: Date;
}

export const assetTrees = (db: Db): Collection<AssetTreeDoc> => db.collection<AssetTreeDoc>(ASSET_TREES);

export function toAssetTree(doc: AssetTreeDoc): AssetTree {
  return { treeId: doc.treeId, nodes: doc.nodes, updatedAt: doc.updatedAt.toISOString() };
}

/** Device nodes whose (productKey, deviceKey) is not registered, each at its node's path. */
export async function unknownDeviceNodes(db: Db, nodes: readonly AssetTreeNode[]): Promise<ErrorDetail[]> {
  const byProduct = new Map<string, string[]>();
  for (const n of nodes) {
    if (n.productKey === undefined || n.deviceKey === undefined) continue;
    const keys = byProduct.get(n.productKey) ?? [];
    keys.push(n.deviceKey);
    byProduct.set(n.productKey, keys);
  }
  const known = new Map<string, Set<string>>();
  for (const [productKey, keys] of byProduct) known.set(productKey, await existingDeviceKeys(db, productKey, keys));
  const problems: ErrorDetail[] = [];
  nodes.forEach((n, i) => {
    if (n.productKey === undefined || n.deviceKey === undefined) return;
    if (!known.get(n.productKey)?.has(n.deviceKey)) {
      problems.push({
        path: `/nodes/${i}/deviceKey`,
        message: `device ${n.productKey}/${n.deviceKey} is not registered`,
      });
    }
  });
  return problems;
}

/** Creates or replaces a tree whose structure is already valid (validateAssetTreeBody). */
export async function putAssetTree(db: Db, treeId: string, nodes: AssetTreeNode[]): Promise<AssetTree> {
  const problems = await unknownDeviceNodes(db, nodes);
  if (problems.length > 0) throw refusedByState(problems);
  const now = new Date();
  // Keep only the model's fields, in a fixed order, whatever else the caller's objects carry.
  const clean = nodes.map((n) => ({
    nodeId: n.nodeId,
    parentId: n.parentId,
    ...(n.name !== undefined ? { name: n.name } : {}),
    ...(n.productKey !== undefined ? { productKey: n.productKey, deviceKey: n.deviceKey } : {}),
  }));
  await assetTrees(db).updateOne(
    { treeId },
    { $set: { nodes: clean, updatedAt: now }, $setOnInsert: { treeId, createdAt: now } },
    { upsert: true },
  );
  return { treeId, nodes: clean, updatedAt: now.toISOString() };
}

export async function getAssetTree(db: Db, treeId: string): Promise<AssetTree | null> {
  const doc = await assetTrees(db).findOne({ treeId }, { projection: { _id: 0 } });
  return doc ? toAssetTree(doc) : null;
}

export async function requireAssetTree(db: Db, treeId: string): Promise<AssetTree> {
  const tree = await getAssetTree(db, treeId);
  if (!tree) throw notFound(`asset tree ${treeId} does not exist`);
  return tree;
}

/** The named trees that exist, by id. */
export async function loadAssetTrees(db: Db, treeIds: readonly string[]): Promise<Map<string, AssetTree>> {
  if (treeIds.length === 0) return new Map();
  const docs = await assetTrees(db)
    .find({ treeId: { $in: [...new Set(treeIds)] } }, { projection: { _id: 0 } })
    .toArray();
  return new Map(docs.map((d) => [d.treeId, toAssetTree(d)]));
}

/** The device keys of `productKey` a filter's asset-tree selections cover now (sorted), or undefined without trees. */
export async function treeDeviceKeysFor(
  db: Db,
  productKey: string,
  selections: readonly AssetTreeFilter[] | undefined,
): Promise<string[] | undefined> {
  if (!selections || selections.length === 0) return undefined;
  const trees = await loadAssetTrees(
    db,
    selections.map((s) => s.treeId),
  );
  return resolveTreeDeviceKeys(selections, trees, productKey);
}
