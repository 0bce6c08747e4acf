/**
 * Both firmware file stores against the same contract, on the suite's real
 * database (GridFS) and a real folder: bytes and digests, ranges, a refused
 * oversized write that leaves nothing behind, removal; and `auto` choosing
 * the folder on FerretDB and GridFS on MongoDB.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { chooseFirmwareStore, isFerretDb } from '../../artifacts/choose-store';
import { FileTooLarge } from '../../artifacts/digest';
import { createFolderStore } from '../../artifacts/folder-store';
import { createGridFsStore, GRIDFS_BUCKET } from '../../artifacts/gridfs-store';
import type { FirmwareFileStore } from '../../artifacts/store';
import { loadConfig } from '../../config/config';
import { findOnPath } from '../../runtime/infra';
import { testDb } from '../helpers/stack';

let mongo: Awaited<ReturnType<typeof testDb>>;
const dataDir = fs.mkdtempSync(path.join(process.env.OTA_TEST_TMP ?? os.tmpdir(), 'stores-'));
beforeAll(async () => {
  mongo = await testDb('file_stores');
});
afterAll(async () => {
  await mongo.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const file = Buffer.from(Array.from({ length: 600_000 }, (_, i) => (i * 31 + 7) % 256));
/** Several small pieces, as a request body arrives. */
const body = (b: Buffer): Readable =>
  Readable.from(
    Array.from({ length: Math.ceil(b.length / 65_536) }, (_, i) => b.subarray(i * 65_536, (i + 1) * 65_536)),
  );
const readAll = async (stream: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

describe.each<[string, () => FirmwareFileStore, () => Promise<number>]>([
  [
    'GridFS',
    () => createGridFsStore(mongo.db),
    () => mongo.db.collection(`${GRIDFS_BUCKET}.chunks`).countDocuments({}),
  ],
  [
    'data folder',
    () => createFolderStore(dataDir),
    async () =>
      fs.existsSync(path.join(dataDir, 'firmware-files'))
        ? fs.readdirSync(path.join(dataDir, 'firmware-files')).length
        : 0,
  ],
])('%s store', (_name, make, leftovers) => {
  it('stores the bytes with their size, md5 and sha256, serves ranges, and removes them', async () => {
    const store = make();
    const stored = await store.write('fw_a', body(file), file.length);
    expect(stored).toMatchObject({
      size: file.length,
      md5: createHash('md5').update(file).digest('hex'),
      sha256: createHash('sha256').update(file).digest('hex'),
      store: store.kind,
    });
    expect(await store.has(stored.fileId)).toBe(true);
    expect((await readAll(store.read(stored.fileId))).equals(file)).toBe(true);
    // Across a GridFS chunk boundary (255 KiB) and up to the last byte.
    const range = { start: 261_000, end: file.length - 1 };
    expect((await readAll(store.read(stored.fileId, range))).equals(file.subarray(range.start))).toBe(true);
    expect((await readAll(store.read(stored.fileId, { start: 5, end: 5 }))).equals(file.subarray(5, 6))).toBe(true);
    await store.remove(stored.fileId);
    await store.remove(stored.fileId);
    expect(await store.has(stored.fileId)).toBe(false);
    expect(await leftovers()).toBe(0);
  });

  it('refuses a write past the limit and leaves nothing behind', async () => {
    const store = make();
    await expect(store.write('fw_b', body(file), file.length - 1)).rejects.toBeInstanceOf(FileTooLarge);
    expect(await leftovers()).toBe(0);
  });
});

describe('chooseFirmwareStore', () => {
  it('picks the data folder on FerretDB and GridFS on MongoDB, unless configured', async () => {
    const config = (store: string) => loadConfig({ OTA_DATA_DIR: dataDir, OTA_FIRMWARE_STORE: store });
    // The suite runs FerretDB unless a real mongod is on PATH (runtime/infra.ts startDatabase).
    expect(await isFerretDb(mongo.db)).toBe(findOnPath('mongod') === undefined);
    const auto = await chooseFirmwareStore(mongo.db, config('auto'));
    expect(auto.kind).toBe((await isFerretDb(mongo.db)) ? 'folder' : 'gridfs');
    expect((await chooseFirmwareStore(mongo.db, config('gridfs'))).kind).toBe('gridfs');
    expect((await chooseFirmwareStore(mongo.db, config('folder'))).kind).toBe('folder');
  });
});
