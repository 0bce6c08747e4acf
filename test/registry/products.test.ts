/**
 * Products over HTTP: PUT creates or updates (the secret shown once), GET
 * never shows the secret, bad input is a 400 with the field's path; on the
 * API as the server wires it, against the suite's real database.
 */
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { buildOpenApiDocument } from '../../api/openapi/document';
import { isOtaError } from '../../domain/errors';
import { validateProductPut } from '../../domain/validation/registry';
import { detailPaths, startRegistryApi, type RegistryApi } from './api-harness';

let api: RegistryApi;
beforeAll(async () => {
  api = await startRegistryApi('reg_products');
});
afterAll(() => api.close());

const stored = (productKey: string) => api.db.collection('products').findOne({ _id: productKey as never });
const count = () => api.db.collection('products').countDocuments({});

describe('PUT/GET /v1/products/{productKey}', () => {
  it('creates a product with a generated secret, shown only in the creation answer', async () => {
    const put = await api.call('PUT', '/v1/products/pk-gen', { dynamicActivation: true });
    expect(put.status).toBe(201);
    expect(put.body).toEqual({
      productKey: 'pk-gen',
      dynamicActivation: true,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      productSecret: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
    });
    expect((await stored('pk-gen'))?.productSecret).toBe(put.body.productSecret);

    const get = await api.call('GET', '/v1/products/pk-gen');
    expect(get.status).toBe(200);
    const { productSecret: _secret, ...visible } = put.body;
    expect(get.body).toEqual(visible);
    expect(JSON.stringify(get.body)).not.toContain(String(put.body.productSecret));

    const other = await api.call('PUT', '/v1/products/pk-gen-2', { dynamicActivation: true });
    expect(other.body.productSecret).not.toBe(put.body.productSecret);
  });

  it('updates without changing the secret unless one is given, and never answers with it', async () => {
    const created = await api.call('PUT', '/v1/products/pk-upd', { dynamicActivation: true });
    const secret = created.body.productSecret;

    const off = await api.call('PUT', '/v1/products/pk-upd', { dynamicActivation: false });
    expect(off.status).toBe(200);
    expect(off.body).toEqual({
      productKey: 'pk-upd',
      dynamicActivation: false,
      createdAt: created.body.createdAt,
      updatedAt: expect.any(String),
    });
    expect((await stored('pk-upd'))?.productSecret).toBe(secret);

    const rotated = await api.call('PUT', '/v1/products/pk-upd', {
      dynamicActivation: true,
      productSecret: 'a-new-product-secret',
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body.productSecret).toBeUndefined();
    expect(rotated.body.dynamicActivation).toBe(true);
    expect((await stored('pk-upd'))?.productSecret).toBe('a-new-product-secret');
    expect((await api.call('GET', '/v1/products/pk-upd')).body).toEqual(rotated.body);
  });

  it('creates a product with the secret it is given', async () => {
    const put = await api.call('PUT', '/v1/products/pk-given', {
      dynamicActivation: false,
      productSecret: 'given-secret-1',
    });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ dynamicActivation: false, productSecret: 'given-secret-1' });
  });

  it('creates a product once when two first PUTs race', async () => {
    const answers = await Promise.all([
      api.call('PUT', '/v1/products/pk-race', { dynamicActivation: true }),
      api.call('PUT', '/v1/products/pk-race', { dynamicActivation: true }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 201]);
    const secret = answers.find((a) => a.status === 201)?.body.productSecret;
    expect((await stored('pk-race'))?.productSecret).toBe(secret);
  });

  it.each<[string, unknown, string[]]>([
    ['an empty body', {}, ['/dynamicActivation']],
    ['a dynamicActivation that is no boolean', { dynamicActivation: 'yes' }, ['/dynamicActivation']],
    ['an unknown field', { dynamicActivation: true, productsecret: 'x-secret-123' }, ['/productsecret']],
    ['a short secret', { dynamicActivation: true, productSecret: 'short' }, ['/productSecret']],
    ['a secret with spaces', { dynamicActivation: true, productSecret: 'has spaces in it' }, ['/productSecret']],
    ['a secret that is no string', { dynamicActivation: true, productSecret: 12345678 }, ['/productSecret']],
    ['an array', [{ dynamicActivation: true }], ['']],
    ['malformed JSON', '{"dynamicActivation": tru', ['']],
  ])('answers 400 for %s, with the field path, and stores nothing', async (_name, body, paths) => {
    const before = await count();
    const res = await api.call('PUT', '/v1/products/pk-bad', body);
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('invalid_request');
    expect(detailPaths(res)).toEqual(paths);
    expect(await count()).toBe(before);
  });

  it('answers 400 for a productKey a device could not carry', async () => {
    for (const productKey of ['bad%20key', 'a'.repeat(65), 'p%2Fk']) {
      const res = await api.call('PUT', `/v1/products/${productKey}`, { dynamicActivation: true });
      expect([productKey, res.status, detailPaths(res)]).toEqual([productKey, 400, ['params.productKey']]);
    }
    expect(await stored('a'.repeat(65))).toBeNull();
  });

  it('answers 404 in the error shape for an unknown product', async () => {
    const res = await api.call('GET', '/v1/products/pk-nobody');
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: 'not_found', message: expect.any(String), details: [] });
  });
});

describe('the ProductPut schema in the OpenAPI document', () => {
  it('is closed, and accepts exactly what the API accepts', () => {
    const doc = buildOpenApiDocument() as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(Object.keys(doc.paths['/v1/products/{productKey}']).sort()).toEqual(['get', 'put']);
    expect(doc.components.schemas.ProductPut).toMatchObject({ type: 'object', additionalProperties: false });
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: 'urn:ota:openapi-doc', components: doc.components });
    const accepts = (body: unknown) => ajv.validate('urn:ota:openapi-doc#/components/schemas/ProductPut', body);
    const validatorAccepts = (body: unknown) => {
      try {
        validateProductPut(body);
        return true;
      } catch (err) {
        if (isOtaError(err) && err.code === 'invalid_request') return false;
        throw err;
      }
    };
    for (const body of [
      { dynamicActivation: true },
      { dynamicActivation: false, productSecret: 'abcdefgh' },
      { dynamicActivation: true, extra: 1 },
      { productSecret: 'abcdefgh' },
      { dynamicActivation: true, productSecret: 'x'.repeat(129) },
    ]) {
      expect([body, accepts(body)]).toEqual([body, validatorAccepts(body)]);
    }
  });
});
