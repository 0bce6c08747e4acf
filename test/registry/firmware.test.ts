/** The firmware catalog over HTTP against the real database. */
import type { Firmware } from '../../domain/types';
import { detailPaths, firmwareBody, startRegistryApi, type RegistryApi } from './api-harness';

let api: RegistryApi;
beforeAll(async () => {
  api = await startRegistryApi('reg_firmware');
});
afterAll(() => api.close());
beforeEach(async () => {
  await api.db.collection('firmwares').deleteMany({});
  await api.db.collection('tasks').deleteMany({});
});

const count = (): Promise<number> => api.db.collection('firmwares').countDocuments({});

describe('POST /v1/firmwares', () => {
  it('adds unverified firmware with a generated id and a lower-case sign', async () => {
    const res = await api.call('POST', '/v1/firmwares', firmwareBody({ name: 'Spring release' }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      productKey: 'pk1',
      version: '2.0.0',
      name: 'Spring release',
      description: '',
      fileSize: 1_048_576,
      signMethod: 'md5',
      sign: 'd41d8cd98f00b204e9800998ecf8427e',
      verified: false,
    });
    expect(res.body.firmwareId).toMatch(/^fw_[0-9a-f]{20}$/);
    const read = await api.call('GET', `/v1/firmwares/${String(res.body.firmwareId)}`);
    expect(read.body).toEqual(res.body);
  });

  it('answers 409 for a version the product already has, and accepts it for another product', async () => {
    expect((await api.call('POST', '/v1/firmwares', firmwareBody())).status).toBe(201);
    const dup = await api.call('POST', '/v1/firmwares', firmwareBody({ fileUrl: 'https://other.example.com/x.bin' }));
    expect(dup.status).toBe(409);
    expect(dup.body.error?.code).toBe('conflict');
    expect((await api.call('POST', '/v1/firmwares', firmwareBody({ productKey: 'pk2' }))).status).toBe(201);
    expect(await count()).toBe(2);
  });

  it.each([
    ['a fileSize beyond 32 bits', { fileSize: 2 ** 31 }, '/fileSize'],
    ['a fractional fileSize', { fileSize: 10.5 }, '/fileSize'],
    ['a zero fileSize', { fileSize: 0 }, '/fileSize'],
    ['an unknown signMethod', { signMethod: 'sha1' }, '/signMethod'],
    ['an md5 sign of sha256 length', { sign: 'a'.repeat(64) }, '/sign'],
    ['a sha256 sign of md5 length', { signMethod: 'sha256' }, '/sign'],
    ['a sign that is not hex', { sign: 'z'.repeat(32) }, '/sign'],
    ['a non-http fileUrl', { fileUrl: 'ftp://files.example.com/a.bin' }, '/fileUrl'],
    ['a missing version', { version: undefined }, '/version'],
    ['an unknown field', { checksum: 'x' }, '/checksum'],
  ])('rejects %s naming the field and writes nothing', async (_what, over, path) => {
    const res = await api.call('POST', '/v1/firmwares', firmwareBody(over));
    expect(res.status).toBe(400);
    expect(detailPaths(res)).toContain(path);
    expect(await count()).toBe(0);
  });

  it('accepts a sha256 sign of 64 hex digits', async () => {
    const res = await api.call('POST', '/v1/firmwares', firmwareBody({ signMethod: 'sha256', sign: 'AB'.repeat(32) }));
    expect(res.status).toBe(201);
    expect(res.body.sign).toBe('ab'.repeat(32));
  });
});

describe('GET /v1/firmwares', () => {
  it('lists by product in pages', async () => {
    for (let i = 0; i < 5; i += 1) await api.call('POST', '/v1/firmwares', firmwareBody({ version: `1.${i}` }));
    await api.call('POST', '/v1/firmwares', firmwareBody({ productKey: 'pk2' }));
    const first = await api.call('GET', '/v1/firmwares?productKey=pk1&limit=3');
    const second = await api.call(
      'GET',
      `/v1/firmwares?productKey=pk1&limit=3&cursor=${String(first.body.nextCursor)}`,
    );
    const versions = [...(first.body.items as Firmware[]), ...(second.body.items as Firmware[])].map((f) => f.version);
    expect(versions).toEqual(['1.0', '1.1', '1.2', '1.3', '1.4']);
    expect(second.body.nextCursor).toBeNull();
    const all = await api.call('GET', '/v1/firmwares');
    expect(all.body.items).toHaveLength(6);
    expect((await api.call('GET', '/v1/firmwares?limit=abc')).status).toBe(400);
  });
});

describe('DELETE /v1/firmwares/{firmwareId}', () => {
  it('deletes unused firmware (204), then answers 404', async () => {
    const fw = await api.call('POST', '/v1/firmwares', firmwareBody());
    const id = String(fw.body.firmwareId);
    await api.db.collection('tasks').insertOne({ taskId: 'old', kind: 'batch', firmwareId: id, status: 'completed' });
    const del = await api.call('DELETE', `/v1/firmwares/${id}`);
    expect(del.status).toBe(204);
    expect((await api.call('GET', `/v1/firmwares/${id}`)).status).toBe(404);
    expect((await api.call('DELETE', `/v1/firmwares/${id}`)).status).toBe(404);
  });

  it.each(['waiting', 'running', 'paused'])(
    'refuses with 409 while a %s task or verification uses it',
    async (status) => {
      const fw = await api.call('POST', '/v1/firmwares', firmwareBody());
      const id = String(fw.body.firmwareId);
      await api.db.collection('tasks').insertOne({ taskId: 'v-1', kind: 'verification', firmwareId: id, status });
      const del = await api.call('DELETE', `/v1/firmwares/${id}`);
      expect(del.status).toBe(409);
      expect(del.body.error?.message).toContain('verification v-1');
      expect(await count()).toBe(1);
    },
  );
});
