/** The device registry over HTTP against the real database. */
import type { Device } from '../../domain/types';
import { detailPaths, startRegistryApi, type RegistryApi } from './api-harness';

let api: RegistryApi;
const productsTold: string[] = [];
let failEvents = false;

beforeAll(async () => {
  api = await startRegistryApi('reg_devices', {
    registryEvents: {
      devicesRegistered: async (productKey) => {
        productsTold.push(productKey);
        if (failEvents) throw new Error('orchestration is down');
      },
    },
  });
});
afterAll(() => api.close());
beforeEach(async () => {
  await api.db.collection('devices').deleteMany({});
  productsTold.length = 0;
  failEvents = false;
});

const count = (): Promise<number> => api.db.collection('devices').countDocuments({});

describe('POST /v1/devices', () => {
  it('registers a device, generates its secret and shows the secret only in the creation answer', async () => {
    const created = await api.call('POST', '/v1/devices', {
      productKey: 'pk1',
      deviceKey: 'dev-1',
      tags: { site: 'berlin', line: '3' },
      attributes: { model: 'X1', rev: 2, lte: true },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      productKey: 'pk1',
      deviceKey: 'dev-1',
      name: 'dev-1',
      tags: { site: 'berlin', line: '3' },
      attributes: { model: 'X1', rev: 2, lte: true },
      firmwareVersion: null,
      online: false,
      lastSeenAt: null,
    });
    expect(created.body.deviceSecret).toMatch(/^[A-Za-z0-9_-]{32}$/);

    const read = await api.call('GET', '/v1/devices/pk1/dev-1');
    expect(read.status).toBe(200);
    expect(read.body.deviceSecret).toBeUndefined();
    expect(read.body.createdAt).toBe(created.body.createdAt);

    const doc = await api.db.collection('devices').findOne({ productKey: 'pk1', deviceKey: 'dev-1' });
    expect(doc).toMatchObject({
      deviceSecret: created.body.deviceSecret,
      tagPairs: ['site\u001fberlin', 'line\u001f3'],
      attrPairs: ['model\u001f"X1"', 'rev\u001f2', 'lte\u001ftrue'],
      online: false,
      lastSeenAt: null,
    });
    expect(productsTold).toEqual(['pk1']);
  });

  it('keeps a given secret and version, and answers 409 for a second registration', async () => {
    const body = { productKey: 'pk1', deviceKey: 'dev-2', deviceSecret: 'my-secret-1', firmwareVersion: '1.0.0' };
    const first = await api.call('POST', '/v1/devices', body);
    expect(first.body).toMatchObject({ deviceSecret: 'my-secret-1', firmwareVersion: '1.0.0' });
    const again = await api.call('POST', '/v1/devices', body);
    expect(again.status).toBe(409);
    expect(again.body.error?.code).toBe('conflict');
    expect(await count()).toBe(1);
  });

  it('still registers when telling the orchestration fails', async () => {
    failEvents = true;
    const res = await api.call('POST', '/v1/devices', { productKey: 'pk1', deviceKey: 'dev-3' });
    expect(res.status).toBe(201);
    expect(productsTold).toEqual(['pk1']);
  });

  it.each([
    ['a missing deviceKey', { productKey: 'pk1' }, '/deviceKey'],
    ['an unknown field', { productKey: 'pk1', deviceKey: 'd', colour: 'red' }, '/colour'],
    ['a deviceKey with a slash', { productKey: 'pk1', deviceKey: 'a/b' }, '/deviceKey'],
    ['a productKey with an MQTT wildcard', { productKey: 'pk+', deviceKey: 'd' }, '/productKey'],
    ['a tag key starting with $', { productKey: 'pk1', deviceKey: 'd', tags: { $where: '1' } }, '/tags/$where'],
    ['a tag key with a dot', { productKey: 'pk1', deviceKey: 'd', tags: { 'a.b': '1' } }, '/tags/a.b'],
    ['an empty tag key', { productKey: 'pk1', deviceKey: 'd', tags: { '': '1' } }, '/tags/'],
    [
      'a tag key with a control character',
      { productKey: 'pk1', deviceKey: 'd', tags: { 'a\u001fb': '1' } },
      '/tags/a\u001fb',
    ],
    [
      'a too long tag key',
      { productKey: 'pk1', deviceKey: 'd', tags: { ['k'.repeat(65)]: '1' } },
      `/tags/${'k'.repeat(65)}`,
    ],
    ['an empty tag value', { productKey: 'pk1', deviceKey: 'd', tags: { site: '' } }, '/tags/site'],
    ['an attribute name with $', { productKey: 'pk1', deviceKey: 'd', attributes: { $gt: 1 } }, '/attributes/$gt'],
    [
      'an attribute that is an object',
      { productKey: 'pk1', deviceKey: 'd', attributes: { a: { $gt: 1 } } },
      '/attributes/a',
    ],
    ['a too short secret', { productKey: 'pk1', deviceKey: 'd', deviceSecret: 'short' }, '/deviceSecret'],
    ['a version with a space', { productKey: 'pk1', deviceKey: 'd', firmwareVersion: '1 0' }, '/firmwareVersion'],
  ])('rejects %s with the field path and writes nothing', async (_what, body, path) => {
    const res = await api.call('POST', '/v1/devices', body);
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('invalid_request');
    expect(detailPaths(res)).toContain(path);
    expect(await count()).toBe(0);
  });

  it('rejects a "__proto__" tag key sent as raw JSON', async () => {
    const res = await api.call('POST', '/v1/devices', '{"productKey":"pk1","deviceKey":"d","tags":{"__proto__":"x"}}');
    expect(res.status).toBe(400);
    expect(detailPaths(res)).toEqual(['/tags/__proto__']);
    expect(await count()).toBe(0);
  });

  it('answers malformed JSON with 400 in the error shape', async () => {
    const res = await api.call('POST', '/v1/devices', '{"productKey": ');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', details: [{ path: '' }] });
  });
});

describe('POST /v1/devices:batch', () => {
  const dev = (i: number, productKey = 'pk1') => ({ productKey, deviceKey: `d${String(i).padStart(5, '0')}` });

  it('creates the valid devices and reports each invalid or duplicate one at its index', async () => {
    await api.call('POST', '/v1/devices', dev(2));
    productsTold.length = 0;
    const res = await api.call('POST', '/v1/devices:batch', {
      devices: [dev(0), { ...dev(1), tags: { 'x.y': 'z' } }, dev(2), dev(3, 'pk2'), dev(0), 'not a device'],
    });
    expect(res.status).toBe(200);
    expect(res.body.created).toBe(2);
    const failed = res.body.failed as { index: number; error: { code: string; details: { path: string }[] } }[];
    expect(failed.map((f) => [f.index, f.error.code])).toEqual([
      [1, 'invalid_request'],
      [2, 'conflict'],
      [4, 'conflict'],
      [5, 'invalid_request'],
    ]);
    expect(failed[0].error.details.map((d) => d.path)).toEqual(['/devices/1/tags/x.y']);
    expect(await count()).toBe(3);
    expect([...productsTold].sort()).toEqual(['pk1', 'pk2']);
  });

  it('rejects a batch over 10,000 devices, or an empty one, as a whole', async () => {
    const tooMany = await api.call('POST', '/v1/devices:batch', {
      devices: Array.from({ length: 10_001 }, (_, i) => dev(i)),
    });
    expect(tooMany.status).toBe(400);
    expect(detailPaths(tooMany)).toEqual(['/devices']);
    const empty = await api.call('POST', '/v1/devices:batch', { devices: [] });
    expect(detailPaths(empty)).toEqual(['/devices']);
    const extra = await api.call('POST', '/v1/devices:batch', { devices: [dev(1)], dryRun: true });
    expect(detailPaths(extra)).toEqual(['/dryRun']);
    expect(await count()).toBe(0);
  });

  it('keeps exactly one copy of each device when overlapping batches race', async () => {
    // Three batches of 300 over 500 distinct devices: 400 keys appear in two batches.
    const batches = [0, 100, 200].map((start) => Array.from({ length: 300 }, (_, i) => dev(start + i)));
    batches.push(Array.from({ length: 300 }, (_, i) => dev(200 + i)));
    const answers = await Promise.all(batches.map((devices) => api.call('POST', '/v1/devices:batch', { devices })));
    const created = answers.reduce((n, a) => n + (a.body.created as number), 0);
    expect(created).toBe(500);
    expect(await count()).toBe(500);
    const distinct = await api.db.collection('devices').distinct('deviceKey');
    expect(distinct).toHaveLength(500);
    for (const a of answers) {
      const failed = a.body.failed as { index: number; error: { code: string } }[];
      expect(failed.every((f) => f.error.code === 'conflict' && f.index >= 0 && f.index < 300)).toBe(true);
      expect((a.body.created as number) + failed.length).toBe(300);
    }
  });
});

describe('GET /v1/devices', () => {
  beforeEach(async () => {
    const devices = Array.from({ length: 25 }, (_, i) => ({
      productKey: i < 20 ? 'pkA' : 'pkB',
      deviceKey: `dev-${String(i).padStart(2, '0')}`,
      firmwareVersion: i % 2 === 0 ? '1.0' : '1.1',
      tags: { site: i % 3 === 0 ? 'berlin' : 'paris', line: String(i % 4) },
    }));
    const res = await api.call('POST', '/v1/devices:batch', { devices });
    expect(res.body.created).toBe(25);
    await api.db
      .collection('devices')
      .updateMany({ deviceKey: { $in: ['dev-00', 'dev-03'] } }, { $set: { online: true } });
  });

  it('pages through every device in (productKey, deviceKey) order with an opaque cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Awaited<ReturnType<RegistryApi['call']>> = await api.call(
        'GET',
        `/v1/devices?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(res.status).toBe(200);
      const items = res.body.items as Device[];
      seen.push(...items.map((d) => `${d.productKey}/${d.deviceKey}`));
      cursor = res.body.nextCursor as string | null;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(4);
    expect(seen).toHaveLength(25);
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(25);
  });

  it('filters by product, version, several tags (all must match) and online state', async () => {
    const keys = async (query: string) =>
      ((await api.call('GET', `/v1/devices?${query}`)).body.items as Device[]).map((d) => d.deviceKey);
    expect(await keys('productKey=pkB')).toEqual(['dev-20', 'dev-21', 'dev-22', 'dev-23', 'dev-24']);
    expect(await keys('productKey=pkB&version=1.0')).toEqual(['dev-20', 'dev-22', 'dev-24']);
    expect(await keys('tag=site:berlin&tag=line:0')).toEqual(['dev-00', 'dev-12', 'dev-24']);
    expect(await keys('online=true')).toEqual(['dev-00', 'dev-03']);
    expect(await keys('online=false&productKey=pkB&tag=site:berlin')).toEqual(['dev-21', 'dev-24']);
  });

  it.each([
    ['limit=501', 'query.limit'],
    ['limit=0', 'query.limit'],
    ['cursor=bm90LWEtY3Vyc29y', 'query.cursor'],
    ['productkey=pkA', 'query.productkey'],
    ['online=maybe', 'query.online'],
    ['tag=nocolon', 'query.tag/0'],
    ['tag=%24where:1', 'query.tag/0'],
    ['tag=a.b:1', 'query.tag/0'],
  ])('rejects %s naming %s', async (query, path) => {
    const res = await api.call('GET', `/v1/devices?${query}`);
    expect(res.status).toBe(400);
    expect(detailPaths(res)).toContain(path);
  });
});

describe('GET/PATCH/DELETE /v1/devices/{productKey}/{deviceKey}', () => {
  beforeEach(async () => {
    await api.call('POST', '/v1/devices', { productKey: 'pk1', deviceKey: 'd1', tags: { site: 'berlin' } });
  });

  it('replaces tags and attributes so list filters follow the new values', async () => {
    const res = await api.call('PATCH', '/v1/devices/pk1/d1', {
      tags: { site: 'paris' },
      attributes: { rev: 3 },
      name: 'Pump 1',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'Pump 1', tags: { site: 'paris' }, attributes: { rev: 3 } });
    const berlin = await api.call('GET', '/v1/devices?tag=site:berlin');
    expect(berlin.body.items).toEqual([]);
    const paris = await api.call('GET', '/v1/devices?tag=site:paris');
    expect((paris.body.items as Device[]).map((d) => d.deviceKey)).toEqual(['d1']);
  });

  it('rejects a patch with unknown or unsafe fields, or an empty patch, and changes nothing', async () => {
    for (const [body, path] of [
      [{ deviceSecret: 'new-secret-1' }, '/deviceSecret'],
      [{ tags: { 'a.b': 'c' } }, '/tags/a.b'],
      [{}, ''],
    ] as const) {
      const res = await api.call('PATCH', '/v1/devices/pk1/d1', body);
      expect(res.status).toBe(400);
      expect(detailPaths(res)).toContain(path);
    }
    const doc = await api.db.collection('devices').findOne({ deviceKey: 'd1' });
    expect(doc).toMatchObject({ tags: { site: 'berlin' }, tagPairs: ['site\u001fberlin'], name: 'd1' });
  });

  it('answers 404 for unknown devices and deletes known ones', async () => {
    expect((await api.call('GET', '/v1/devices/pk1/nope')).status).toBe(404);
    expect((await api.call('PATCH', '/v1/devices/pk1/nope', { name: 'x' })).status).toBe(404);
    const deleted = await api.call('DELETE', '/v1/devices/pk1/d1');
    expect(deleted.status).toBe(200);
    expect(deleted.body.deviceKey).toBe('d1');
    expect((await api.call('GET', '/v1/devices/pk1/d1')).body.error?.code).toBe('not_found');
    expect((await api.call('DELETE', '/v1/devices/pk1/d1')).status).toBe(404);
  });
});
