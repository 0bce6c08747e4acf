/** /v1/asset-trees/{treeId}: create or replace a whole tree, and read it. */
import { Router } from 'express';
import type { Db } from 'mongodb';
import { IDENTIFIER_PATTERN, MAX_IDENTIFIER_LENGTH } from '../../domain/keys';
import { invalid } from '../../domain/errors';
import { validateAssetTreeBody } from '../../domain/validation/registry';
import { putAssetTree, requireAssetTree } from '../../db/asset-trees';

const TREE_ID = new RegExp(IDENTIFIER_PATTERN);

export function assetTreesRouter(ctx: { db: Db }): Router {
  const r = Router();

  r.put('/asset-trees/:treeId', async (req, res) => {
    const treeId = String(req.params.treeId);
    // Checked before the body: the id is stored and later named in task filters.
    if (treeId.length > MAX_IDENTIFIER_LENGTH || !TREE_ID.test(treeId)) {
      throw invalid('invalid treeId', [
        { path: 'params.treeId', message: 'may only contain letters, digits and _ . : @ - (at most 64)' },
      ]);
    }
    const { nodes } = validateAssetTreeBody(req.body);
    res.status(200).json(await putAssetTree(ctx.db, treeId, nodes));
  });

  r.get('/asset-trees/:treeId', async (req, res) => {
    res.json(await requireAssetTree(ctx.db, String(req.params.treeId)));
  });
  return r;
}
