/**
 * Bearer-token enforcement on /v1, the config rule that forbids an open API
 * on the network, and the OpenAPI document: complete, valid, and in step with
 * the validators.
 */
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { ConfigError, loadConfig } from '../../config/config';
import { isOtaError } from '../../domain/errors';
import { validateDeviceInput, validateFirmwareInput } from '../../domain/validation/registry';
import { validateUpgradeTaskRequest, validateVerificationRequest } from '../../domain/validation/task';
import { startRegistryApi, type RegistryApi } from './api-harness';

describe('bearer token on /v1', () => {
  let api: RegistryApi;
  beforeAll(async () => {
    api = await startRegistryApi('reg_auth', { apiToken: 's3cret-token' });
  });
  afterAll(() => api.close());

  it('answers 401 in the error shape without a token or with a wrong one, and writes nothing', async () => {
    const body = { productKey: 'pk1', deviceKey: 'd1' };
    for (const headers of [
      { authorization: '' },
      { authorization: 'Bearer wrong' },
      { authorization: 'Basic czNjcmV0' },
    ]) {
      const res = await api.call('POST', '/v1/devices', body, headers);
      expect(res.status).toBe(401);
      expect(res.body.error?.code).toBe('unauthorized');
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
    }
    expect((await api.call('GET', '/v1/no-such-route', undefined, { authorization: '' })).status).toBe(401);
    expect(await api.db.collection('devices').countDocuments({})).toBe(0);
  });

  it('lets the right token through', async () => {
    expect((await api.call('POST', '/v1/devices', { productKey: 'pk1', deviceKey: 'd1' })).status).toBe(201);
    expect((await api.call('GET', '/v1/devices')).status).toBe(200);
  });

  it('keeps /healthz and /openapi.json open', async () => {
    const health = await api.call('GET', '/healthz', undefined, { authorization: '' });
    expect([200, 503]).toContain(health.status);
    expect(health.body.dependencies).toBeDefined();
    expect((await api.call('GET', '/openapi.json', undefined, { authorization: '' })).status).toBe(200);
  });
});

describe('config', () => {
  it('refuses a non-loopback API address without a token, and accepts it with one', () => {
    expect(() => loadConfig({ OTA_API_HOST: '0.0.0.0' })).toThrow(ConfigError);
    expect(() => loadConfig({ OTA_API_HOST: '0.0.0.0', OTA_API_TOKEN: '' })).toThrow(/OTA_API_TOKEN/);
    expect(loadConfig({ OTA_API_HOST: '0.0.0.0', OTA_API_TOKEN: 't' }).apiToken).toBe('t');
    expect(loadConfig({ OTA_API_HOST: '127.0.0.1' }).apiToken).toBeUndefined();
  });
});

describe('GET /openapi.json', () => {
  let api: RegistryApi;
  let doc: {
    openapi: string;
    paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>>;
    components: { schemas: Record<string, unknown> };
  };
  beforeAll(async () => {
    api = await startRegistryApi('reg_openapi');
    const res = await fetch(`${api.url}/openapi.json`);
    expect(res.headers.get('content-type')).toContain('application/json');
    doc = JSON.parse(await res.text()) as typeof doc;
  });
  afterAll(() => api.close());

  it('is OpenAPI 3.1 with every path of contract v1', () => {
    expect(doc.openapi).toBe('3.1.0');
    const spec: [string, string][] = [
      ['/healthz', 'get'],
      ['/v1/devices', 'post'],
      ['/v1/devices:batch', 'post'],
      ['/v1/devices', 'get'],
      ['/v1/devices/{productKey}/{deviceKey}', 'get'],
      ['/v1/devices/{productKey}/{deviceKey}', 'patch'],
      ['/v1/devices/{productKey}/{deviceKey}', 'delete'],
      ['/v1/products/{productKey}', 'put'],
      ['/v1/products/{productKey}', 'get'],
      ['/v1/asset-trees/{treeId}', 'put'],
      ['/v1/asset-trees/{treeId}', 'get'],
      ['/v1/firmwares', 'post'],
      ['/v1/firmwares', 'get'],
      ['/v1/firmwares/{firmwareId}', 'get'],
      ['/v1/firmwares/{firmwareId}', 'delete'],
      ['/v1/firmwares/{firmwareId}/file', 'put'],
      ['/firmware-files/{firmwareId}', 'get'],
      ['/v1/firmwares/{firmwareId}/verification', 'post'],
      ['/v1/firmwares/{firmwareId}/verification', 'get'],
      ['/v1/upgrade-tasks', 'post'],
      ['/v1/upgrade-tasks', 'get'],
      ['/v1/upgrade-tasks/{taskId}', 'get'],
      ['/v1/upgrade-tasks/{taskId}/devices', 'get'],
      ['/v1/upgrade-tasks/{taskId}/devices/{deviceKey}', 'get'],
      ['/v1/upgrade-tasks/{taskId}/cancel', 'post'],
      ['/v1/upgrade-tasks/{taskId}/pause', 'post'],
      ['/v1/upgrade-tasks/{taskId}/resume', 'post'],
      ['/v1/upgrade-tasks/{taskId}/retry', 'post'],
      ['/v1/upgrade-tasks/{taskId}/devices/{deviceKey}/cancel', 'post'],
    ];
    for (const [path, method] of spec) expect(doc.paths[path]?.[method]).toBeDefined();
  });

  it('gives every request body a closed schema, and every $ref resolves', () => {
    const schemas = doc.components.schemas as Record<string, { additionalProperties?: unknown; type?: unknown }>;
    const bodies = Object.values(doc.paths).flatMap((ops) =>
      Object.values(ops).flatMap((op) => {
        // A file upload's body is raw bytes; the JSON bodies are the ones with schemas.
        const body = op.requestBody?.content['application/json'];
        return body ? [body.schema] : [];
      }),
    );
    expect(bodies.length).toBe(9);
    for (const body of bodies) {
      const name = (body as { $ref: string }).$ref.replace('#/components/schemas/', '');
      expect(schemas[name]).toMatchObject({ type: 'object', additionalProperties: false });
    }
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(20);
    for (const name of refs) expect([name, schemas[name] !== undefined]).toEqual([name, true]);
  });

  it('validates with ajv as draft 2020-12, and the API rejects what the document forbids', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: 'urn:ota:openapi-doc', components: doc.components });
    const check = (name: string, body: unknown): boolean =>
      ajv.validate(`urn:ota:openapi-doc#/components/schemas/${name}`, body) as boolean;
    const rejects = (fn: () => unknown): boolean => {
      try {
        fn();
        return false;
      } catch (err) {
        return isOtaError(err) && err.code === 'invalid_request';
      }
    };
    const task = { firmwareId: 'fw_1', sourceVersions: ['1.0'], strategy: 'snapshot', scope: 'all', method: 'push' };
    const fw = {
      productKey: 'p',
      version: '1',
      fileUrl: 'https://x/y',
      fileSize: 1,
      signMethod: 'md5',
      sign: 'a'.repeat(32),
    };
    const cases: [string, unknown, (b: unknown) => unknown][] = [
      ['UpgradeTaskCreate', task, validateUpgradeTaskRequest],
      ['UpgradeTaskCreate', { ...task, unknown: 1 }, validateUpgradeTaskRequest],
      ['UpgradeTaskCreate', { ...task, upgradeTimeout: 100 }, validateUpgradeTaskRequest],
      ['UpgradeTaskCreate', { ...task, maxConcurrency: 10_001 }, validateUpgradeTaskRequest],
      [
        'UpgradeTaskCreate',
        { ...task, scope: 'target', filter: { assetTrees: Array(6).fill({ treeId: 't', nodeIds: ['n'] }) } },
        validateUpgradeTaskRequest,
      ],
      ['VerificationCreate', { deviceKeys: ['a'] }, validateVerificationRequest],
      ['VerificationCreate', { deviceKeys: ['a', 'b', 'c', 'd', 'e', 'f'] }, validateVerificationRequest],
      ['FirmwareCreate', fw, validateFirmwareInput],
      ['FirmwareCreate', { ...fw, fileSize: 2 ** 31 }, validateFirmwareInput],
      ['FirmwareCreate', { ...fw, sign: 'a'.repeat(64) }, validateFirmwareInput],
      ['DeviceCreate', { productKey: 'p', deviceKey: 'd' }, validateDeviceInput],
      ['DeviceCreate', { productKey: 'p', deviceKey: 'd', tags: { $x: 'y' } }, validateDeviceInput],
    ];
    for (const [name, body, validate] of cases) {
      // The document and the validator agree on the shape (cross-field rules are extra, not tested here).
      expect([name, body, check(name, body)]).toEqual([name, body, !rejects(() => validate(body))]);
    }
  });
});
