/**
 * /v1/products/{productKey}: create or update a product (dynamic activation
 * on or off, its product secret), and read it. The secret is shown once, in
 * the answer that created the product; devices of a product with dynamic
 * activation sign their first login (securemode=3) with it.
 */
import { Router } from 'express';
import type { Db } from 'mongodb';
import { invalid } from '../../domain/errors';
import { IDENTIFIER_PATTERN, MAX_IDENTIFIER_LENGTH } from '../../domain/keys';
import { validateProductPut } from '../../domain/validation/registry';
import { putProduct, requireProduct } from '../../db/products';

const PRODUCT_KEY = new RegExp(IDENTIFIER_PATTERN);

export function productsRouter(ctx: { db: Db }): Router {
  const r = Router();

  r.put('/products/:productKey', async (req, res) => {
    const productKey = String(req.params.productKey);
    // The same rule as a device's productKey, so every registered device can name its product.
    if (productKey.length > MAX_IDENTIFIER_LENGTH || !PRODUCT_KEY.test(productKey)) {
      throw invalid('invalid productKey', [
        { path: 'params.productKey', message: 'may only contain letters, digits and _ . : @ - (at most 64)' },
      ]);
    }
    const input = validateProductPut(req.body);
    const { product, created, productSecret } = await putProduct(ctx.db, productKey, input);
    if (created) res.status(201).json({ ...product, productSecret });
    else res.status(200).json(product);
  });

  r.get('/products/:productKey', async (req, res) => {
    res.json(await requireProduct(ctx.db, String(req.params.productKey)));
  });
  return r;
}
