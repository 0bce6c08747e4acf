/**
 * GET /v1/products/{productKey}/versions: how many devices of a product run
 * each firmware version, online and offline, and how many are in an active
 * upgrade — the first question before and after a rollout. A product with
 * no devices answers with empty counts: devices may be registered under a
 * productKey that was never PUT, so "unknown product" cannot be told apart.
 */
import { Router } from 'express';
import type { Db } from 'mongodb';
import { invalid } from '../../domain/errors';
import { IDENTIFIER_PATTERN, MAX_IDENTIFIER_LENGTH } from '../../domain/keys';
import { readFleetVersions } from '../../db/fleet-versions';
import { parseQuery } from '../query';

const PRODUCT_KEY = new RegExp(IDENTIFIER_PATTERN);

export function fleetRouter(ctx: { db: Db }): Router {
  const r = Router();
  r.get('/products/:productKey/versions', async (req, res) => {
    parseQuery(req, []); // no parameters: a typo is refused, not ignored
    const productKey = String(req.params.productKey);
    if (productKey.length > MAX_IDENTIFIER_LENGTH || !PRODUCT_KEY.test(productKey)) {
      throw invalid('invalid productKey', [
        { path: 'params.productKey', message: 'may only contain letters, digits and _ . : @ - (at most 64)' },
      ]);
    }
    res.json(await readFleetVersions(ctx.db, productKey));
  });
  return r;
}
