/**
 * The API and its OpenAPI document agree (what schemathesis found apart):
 * business-rule refusals are 409/422 and declared, every cursor the schema
 * allows is accepted, a JSON null is not an absent body, and links lead from
 * the creating operations to the resources they create.
 */
import { startRegistryApi, firmwareBody, type RegistryApi } from './api-harness';

interface Doc {
  paths: Record<string, Record<string, { responses: Record<string, { links?: Record<string, unknown> }> }>>;
}

describe('API and OpenAPI agreement', () => {
  let api: RegistryApi;
  let doc: Doc;
  let firmwareId: string;
  beforeAll(async () => {
    api = await startRegistryApi('api_contract');
    doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as Doc;
    const fw = await api.call('POST', '/v1/firmwares', firmwareBody());
    firmwareId = String(fw.body.firmwareId);
  });
  afterAll(() => api.close());

  it('refuses a task on unverified firmware with 409 at /firmwareId, and writes no task', async () => {
    const res = await api.call('POST', '/v1/upgrade-tasks', {
      firmwareId,
      sourceVersions: ['1.0.0'],
      strategy: 'snapshot',
      scope: 'all',
      method: 'push',
    });
    expect([res.status, res.body.error?.code]).toEqual([409, 'conflict']);
    expect(res.body.error?.details?.[0]).toMatchObject({
      path: '/firmwareId',
      message: expect.stringContaining('not verified'),
    });
    expect(await api.db.collection('tasks').countDocuments({})).toBe(0);
  });

  it('refuses a verification on a device that is not registered with 409 at its index', async () => {
    const res = await api.call('POST', `/v1/firmwares/${firmwareId}/verification`, { deviceKeys: ['ghost'] });
    expect([res.status, res.body.error?.details]).toEqual([
      409,
      [{ path: '/deviceKeys/0', message: 'device pk1/ghost is not registered' }],
    ]);
    expect(await api.db.collection('tasks').countDocuments({})).toBe(0);
  });

  it('refuses a schema-valid body that breaks a rule over its fields with 422', async () => {
    const res = await api.call('POST', '/v1/upgrade-tasks', {
      firmwareId,
      sourceVersions: ['1.0.0'],
      strategy: 'snapshot',
      scope: 'target',
      method: 'push',
    });
    expect([res.status, res.body.error?.code, res.body.error?.details?.[0]?.path]).toEqual([
      422,
      'unprocessable',
      '/filter',
    ]);
  });

  it('declares those answers on the operations that give them', () => {
    const statuses = (path: string, method: string) => Object.keys(doc.paths[path][method].responses);
    expect(statuses('/v1/upgrade-tasks', 'post')).toEqual(expect.arrayContaining(['201', '400', '409', '422']));
    expect(statuses('/v1/asset-trees/{treeId}', 'put')).toEqual(expect.arrayContaining(['400', '409', '422']));
    expect(statuses('/v1/firmwares/{firmwareId}/verification', 'post')).toEqual(expect.arrayContaining(['409']));
  });

  it.each([
    ['/v1/devices', ['zz.__-', '.', 'AAAA.BBBB']],
    ['/v1/firmwares', ['A.B', '-._']],
    ['/v1/upgrade-tasks', ['zzzzzzzzzz.x', '0.', 'abc.__']],
  ])('accepts on %s every cursor the schema allows', async (route, cursors) => {
    for (const cursor of cursors) {
      const res = await api.call('GET', `${route}?cursor=${encodeURIComponent(cursor)}`);
      expect([cursor, res.status]).toEqual([cursor, 200]);
    }
    // And a cursor outside the pattern is a 400 naming it, as the document says.
    const bad = await api.call('GET', `${route}?cursor=not*a*cursor`);
    expect([bad.status, bad.body.error?.details?.[0]?.path]).toEqual([400, 'query.cursor']);
  });

  it('refuses a JSON null as a retry body (an absent body means "all failed")', async () => {
    const res = await api.call('POST', '/v1/upgrade-tasks/task-x/retry', 'null');
    expect(res.status).toBe(400);
  });

  it('links the creating operations to the operations on what they create', () => {
    const links = (path: string, method: string, status: string) =>
      Object.keys(doc.paths[path][method].responses[status].links ?? {});
    expect(links('/v1/devices', 'post', '201')).toEqual(expect.arrayContaining(['GetDevice', 'DeleteDevice']));
    expect(links('/v1/firmwares', 'post', '201')).toEqual(expect.arrayContaining(['GetFirmware', 'StartVerification']));
    expect(links('/v1/upgrade-tasks', 'post', '201')).toEqual(expect.arrayContaining(['GetTask', 'ListTaskDevices']));
    expect(links('/v1/firmwares/{firmwareId}/verification', 'post', '202')).toEqual(
      expect.arrayContaining(['GetVerification', 'GetTask']),
    );
    expect(links('/v1/asset-trees/{treeId}', 'put', '200')).toEqual(['GetAssetTree']);
    expect(links('/v1/upgrade-tasks', 'get', '200')).toEqual(expect.arrayContaining(['GetTask']));
  });
});
