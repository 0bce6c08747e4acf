/**
 * Products in MongoDB: whether a product's devices may activate themselves
 * (EnOS dynamic activation, securemode=3) and the product secret they sign
 * that login with. A document is keyed by `_id = productKey`: FerretDB only
 * answers exact `_id` filters from an index, and the gateway reads a product
 * on every activation login.
 */
import type { Collection, Db } from 'mongodb';
import { notFound } from '../domain/errors';
import type { ProductPut } from '../domain/validation/registry';
import { generateSecret } from './devices';
import { isDuplicateKey } from './mongo';

export const PRODUCTS = 'products';

export interface ProductDoc {
  /** The productKey. */
  _id: string;
  productKey: string;
  /** Plain text: the gateway recomputes the login sign with it, as with device secrets. */
  productSecret: string;
  dynamicActivation: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** What a reader may see: never the secret. */
export interface Product {
  productKey: string;
  dynamicActivation: boolean;
  createdAt: string;
  updatedAt: string;
}

/** What the gateway needs to check an activation login. */
export interface ProductLoginRecord {
  productKey: string;
  productSecret: string;
  dynamicActivation: boolean;
}

export const products = (db: Db): Collection<ProductDoc> => db.collection<ProductDoc>(PRODUCTS);

export function toProduct(doc: ProductDoc): Product {
  return {
    productKey: doc.productKey,
    dynamicActivation: doc.dynamicActivation === true,
    createdAt: doc.createdAt.toISOString(),
    updatedAt: doc.updatedAt.toISOString(),
  };
}

/**
 * Creates or updates a product. The secret is kept unless the input gives one;
 * a product created without one gets a generated secret. The secret comes back
 * only when this call created the product (it is never readable afterwards).
 */
export async function putProduct(
  db: Db,
  productKey: string,
  input: ProductPut,
): Promise<{ product: Product; created: boolean; productSecret?: string }> {
  const now = new Date();
  const generated = input.productSecret === undefined ? generateSecret() : undefined;
  const update = {
    $set: {
      dynamicActivation: input.dynamicActivation,
      updatedAt: now,
      ...(input.productSecret !== undefined ? { productSecret: input.productSecret } : {}),
    },
    $setOnInsert: { productKey, createdAt: now, ...(generated !== undefined ? { productSecret: generated } : {}) },
  };
  const upsert = () =>
    // No projection: FerretDB's findAndModify lacks it; toProduct picks the public fields anyway.
    products(db).findOneAndUpdate({ _id: productKey }, update, {
      upsert: true,
      returnDocument: 'after',
      includeResultMetadata: true,
    });
  // Two first PUTs of one product race on the `_id`: the loser's retry is an update.
  const result = await upsert().catch((err: unknown) => {
    if (isDuplicateKey(err)) return upsert();
    throw err;
  });
  const doc = result.value;
  if (!doc) throw new Error(`product ${productKey} was neither found nor created`);
  const created = result.lastErrorObject?.updatedExisting === false;
  return { product: toProduct(doc), created, ...(created ? { productSecret: doc.productSecret } : {}) };
}

export async function getProduct(db: Db, productKey: string): Promise<Product | null> {
  const doc = await products(db).findOne({ _id: productKey });
  return doc ? toProduct(doc) : null;
}

export async function requireProduct(db: Db, productKey: string): Promise<Product> {
  const product = await getProduct(db, productKey);
  if (!product) throw notFound(`product ${productKey} does not exist`);
  return product;
}

/** The gateway's read for a securemode=3 login (one `_id` lookup; activation logins are rare). */
export async function findProductForLogin(db: Db, productKey: string): Promise<ProductLoginRecord | null> {
  const doc = await products(db).findOne(
    { _id: productKey },
    { projection: { productKey: 1, productSecret: 1, dynamicActivation: 1 } },
  );
  if (!doc || typeof doc.productSecret !== 'string') return null;
  return {
    productKey: doc.productKey,
    productSecret: doc.productSecret,
    dynamicActivation: doc.dynamicActivation === true,
  };
}
