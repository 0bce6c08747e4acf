/**
 * Firmware files over HTTP against the real database: upload (limits, sign
 * check, replace, in use), and the signed download endpoint (forged and
 * expired URLs, Range, ETag).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { Firmware } from '../../domain/types';
import { startFilesApi, type FilesApi } from './harness';

const LIMIT = 64 * 1024;
let api: FilesApi;
beforeAll(async () => {
  api = await startFilesApi('files_api', { OTA_FIRMWARE_MAX_BYTES: String(LIMIT), OTA_DOWNLOAD_URL_TTL_SEC: '60' });
});
afterAll(() => api.close());
beforeEach(async () => {
  await api.db.collection('firmwares').deleteMany({});
  await api.db.collection('tasks').deleteMany({});
  fs.rmSync(path.join(api.dataDir, 'firmware-files'), { recursive: true, force: true });
});

const bytes = (n: number, seed = 7): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * seed + 3) % 256));
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const storedFiles = (): string[] => {
  const dir = path.join(api.dataDir, 'firmware-files');
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
};
const read = async (id: string): Promise<Firmware> =>
  (await (await fetch(`${api.url}/v1/firmwares/${id}`)).json()) as Firmware;

/** A chunked upload: no Content-Length, so only the streamed count can enforce the limit. */
function chunkedUpload(id: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${api.url}/v1/firmwares/${id}/file`, { method: 'PUT' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (let at = 0; at < body.length; at += 8192) req.write(body.subarray(at, at + 8192));
    req.end();
  });
}

describe('firmware registered without a file', () => {
  it('waits for its upload: empty file fields, and no verification until the file is there', async () => {
    const id = await api.addFirmware('0.9.0');
    expect(await read(id)).toMatchObject({ fileUrl: '', fileSize: 0, sign: '', signMethod: 'sha256' });
    const verify = () =>
      fetch(`${api.url}/v1/firmwares/${id}/verification`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ deviceKeys: ['d1'] }),
      });
    const refused = await verify();
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/no file/);
    await api.upload(id, bytes(100));
    // Now only the device is missing from the registry.
    expect(((await (await verify()).json()) as { error: { details: { path: string }[] } }).error.details[0].path).toBe(
      '/deviceKeys/0',
    );
  });

  it('refuses some file fields without the others', async () => {
    const post = (body: object) =>
      fetch(`${api.url}/v1/firmwares`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ productKey: 'pk1', version: '0.9.1', ...body }),
      });
    for (const partial of [{ fileUrl: 'https://x/y.bin' }, { fileSize: 10 }, { sign: 'a'.repeat(64) }]) {
      expect((await post(partial)).status).toBe(400);
    }
    expect(await api.db.collection('firmwares').countDocuments({})).toBe(0);
  });
});

describe('PUT /v1/firmwares/{firmwareId}/file', () => {
  it('stores the file and fills fileUrl, fileSize, sign and signMethod from what it measured', async () => {
    const id = await api.addFirmware('1.0.0', 'sha256');
    const file = bytes(20_000);
    const res = await api.upload(id, file);
    expect(res.status).toBe(200);
    const fw = (await res.json()) as Firmware;
    expect(fw).toMatchObject({
      firmwareId: id,
      fileUrl: `${api.url}/firmware-files/${id}`,
      fileSize: file.length,
      signMethod: 'sha256',
      sign: sha256(file),
      verified: false,
    });
    expect(await read(id)).toEqual(fw);
    expect(storedFiles()).toHaveLength(1);
  });

  it('keeps md5 for md5 firmware, and accepts a matching client sign in either case', async () => {
    const id = await api.addFirmware('1.0.1', 'md5');
    const file = bytes(5000, 3);
    const res = await api.upload(id, file, `?sign=${md5(file).toUpperCase()}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ signMethod: 'md5', sign: md5(file), fileSize: 5000 });
    const other = await api.addFirmware('1.0.2', 'md5');
    const switched = await api.upload(other, file, `?signMethod=sha256&sign=${sha256(file)}`);
    expect(await switched.json()).toMatchObject({ signMethod: 'sha256', sign: sha256(file) });
  });

  it('answers 422 when the client sign does not match, and changes nothing', async () => {
    const id = await api.addFirmware('1.1.0');
    const before = await read(id);
    const res = await api.upload(id, bytes(3000), `?sign=${sha256(bytes(3001))}`);
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: { code: string; details: { path: string }[] } };
    expect(body.error.code).toBe('unprocessable');
    expect(body.error.details[0].path).toBe('query.sign');
    expect(await read(id)).toEqual(before);
    expect(storedFiles()).toHaveLength(0);
  });

  it.each([
    ['a sign that is not hex', '?sign=' + 'z'.repeat(64)],
    ['a sign of the wrong length', '?sign=abc'],
    ['an unknown signMethod', '?signMethod=sha1'],
  ])('answers 400 for %s before reading the body', async (_what, query) => {
    const id = await api.addFirmware('1.1.1');
    expect((await api.upload(id, bytes(10), query)).status).toBe(400);
    expect(storedFiles()).toHaveLength(0);
  });

  it('answers 413 beyond the limit, declared or streamed, and stores nothing', async () => {
    const id = await api.addFirmware('1.2.0');
    const before = await read(id);
    expect((await api.upload(id, bytes(LIMIT + 1))).status).toBe(413);
    expect(await chunkedUpload(id, bytes(LIMIT * 2))).toBe(413);
    expect(await read(id)).toEqual(before);
    expect(storedFiles()).toHaveLength(0);
    expect((await api.upload(id, bytes(LIMIT))).status).toBe(200);
  });

  it('answers 400 for an empty file and 404 for unknown firmware', async () => {
    const id = await api.addFirmware('1.3.0');
    expect((await api.upload(id, Buffer.alloc(0))).status).toBe(400);
    expect((await api.upload('fw_nope', bytes(10))).status).toBe(404);
    expect(storedFiles()).toHaveLength(0);
  });

  it('replaces the file of unverified firmware and removes the old one', async () => {
    const id = await api.addFirmware('1.4.0');
    await api.upload(id, bytes(1000));
    const [first] = storedFiles();
    const res = await api.upload(id, bytes(2000, 5));
    expect(await res.json()).toMatchObject({ fileSize: 2000, sign: sha256(bytes(2000, 5)) });
    expect(storedFiles()).not.toContain(first);
    expect(storedFiles()).toHaveLength(1);
  });

  it('refuses (409) a new file for verified firmware or firmware an active task uses', async () => {
    const verified = await api.addFirmware('1.5.0');
    await api.db.collection('firmwares').updateOne({ firmwareId: verified }, { $set: { verified: true } });
    expect((await api.upload(verified, bytes(10))).status).toBe(409);
    const used = await api.addFirmware('1.5.1');
    await api.db.collection('tasks').insertOne({ taskId: 't1', kind: 'task', firmwareId: used, status: 'running' });
    expect((await api.upload(used, bytes(10))).status).toBe(409);
    expect(storedFiles()).toHaveLength(0);
  });
});

describe('DELETE /v1/firmwares/{firmwareId} with a file', () => {
  it('deletes the file with the firmware, and keeps both while a verification uses it', async () => {
    const id = await api.addFirmware('2.0.0');
    await api.upload(id, bytes(1000));
    await api.db
      .collection('tasks')
      .insertOne({ taskId: 'v1', kind: 'verification', firmwareId: id, status: 'waiting' });
    expect((await fetch(`${api.url}/v1/firmwares/${id}`, { method: 'DELETE' })).status).toBe(409);
    expect(storedFiles()).toHaveLength(1);
    expect((await fetch(api.signed(id))).status).toBe(200);
    await api.db.collection('tasks').deleteMany({});
    expect((await fetch(`${api.url}/v1/firmwares/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect(storedFiles()).toHaveLength(0);
    expect((await fetch(api.signed(id))).status).toBe(404);
  });
});

describe('GET /firmware-files/{firmwareId}', () => {
  const file = bytes(10_000, 11);
  let id: string;
  beforeEach(async () => {
    id = await api.addFirmware('3.0.0');
    expect((await api.upload(id, file)).status).toBe(200);
  });

  it('serves the whole file through a signed URL, without an API token, with a strong ETag', async () => {
    const res = await fetch(api.signed(id));
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${sha256(file)}"`);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-length')).toBe(String(file.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(file)).toBe(true);
    const head = await fetch(api.signed(id), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(file.length));
  });

  it('answers 403 to a forged, tampered, borrowed, unsigned or expired URL', async () => {
    const good = new URL(api.signed(id));
    const forged = new URL(good);
    const sig = good.searchParams.get('signature') ?? '';
    forged.searchParams.set('signature', `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`);
    const tampered = new URL(good);
    tampered.searchParams.set('expires', String(Number(good.searchParams.get('expires')) + 3600));
    const other = await api.addFirmware('3.0.1');
    const borrowed = new URL(good);
    borrowed.pathname = `/firmware-files/${other}`;
    const expired = api.signed(id, Date.now() - 61_000);
    for (const url of [forged.href, tampered.href, borrowed.href, `${api.url}/firmware-files/${id}`, expired]) {
      const res = await fetch(url);
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
    expect(((await (await fetch(expired)).json()) as { error: { message: string } }).error.message).toMatch(/expired/);
  });

  it.each([
    ['a closed range', 'bytes=10-19', 10, 19],
    ['an open-ended range', 'bytes=9000-', 9000, 9999],
    ['a suffix range', 'bytes=-100', 9900, 9999],
    ['a range past the end, clipped', 'bytes=9990-20000', 9990, 9999],
  ])('serves %s as 206 with Content-Range', async (_what, range, start, end) => {
    const res = await fetch(api.signed(id), { headers: { range } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${file.length}`);
    expect(res.headers.get('content-length')).toBe(String(end - start + 1));
    expect(Buffer.from(await res.arrayBuffer()).equals(file.subarray(start, end + 1))).toBe(true);
  });

  it('answers 404 with the reason, not 500, when the stored bytes have gone missing', async () => {
    for (const name of storedFiles()) fs.rmSync(path.join(api.dataDir, 'firmware-files', name));
    const res = await fetch(api.signed(id));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/missing/);
  });

  it('answers 416 with the size to a range that starts past the end', async () => {
    const res = await fetch(api.signed(id), { headers: { range: `bytes=${file.length}-` } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${file.length}`);
  });

  it('answers If-None-Match with 304, and a stale If-Range with the whole file', async () => {
    const etag = `"${sha256(file)}"`;
    expect((await fetch(api.signed(id), { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(api.signed(id), { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
    const current = await fetch(api.signed(id), { headers: { range: 'bytes=5-', 'if-range': etag } });
    expect(current.status).toBe(206);
    const stale = await fetch(api.signed(id), { headers: { range: 'bytes=5-', 'if-range': '"old"' } });
    expect(stale.status).toBe(200);
    expect(Buffer.from(await stale.arrayBuffer()).equals(file)).toBe(true);
  });
});

describe('with OTA_API_TOKEN set', () => {
  let secured: FilesApi;
  beforeAll(async () => {
    secured = await startFilesApi('files_token', { OTA_API_TOKEN: 'upload-token' });
  });
  afterAll(() => secured.close());

  it('needs the bearer token to upload, but not to download through a signed URL', async () => {
    const res = await fetch(`${secured.url}/v1/firmwares`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer upload-token' },
      body: JSON.stringify({ productKey: 'pk1', version: '9.0.0' }),
    });
    const { firmwareId } = (await res.json()) as { firmwareId: string };
    expect((await secured.upload(firmwareId, bytes(100))).status).toBe(401);
    expect((await secured.upload(firmwareId, bytes(100), '', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await secured.upload(firmwareId, bytes(100), '', { authorization: 'Bearer upload-token' })).status).toBe(
      200,
    );
    expect((await fetch(secured.signed(firmwareId))).status).toBe(200);
  });
});
