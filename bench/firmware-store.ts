/**
 * Firmware file store benchmark: prints figures, asserts nothing about speed.
 *
 * Writes BENCH_FILES files (default 20) of BENCH_FILE_MB MiB (default 4) into
 * GridFS and into the data folder, then reads one file whole and its last
 * 64 KiB (a resumed download) while the bucket holds 1 file and then all of
 * them. On a database that pushes the chunk query ({files_id, n}) down to an
 * index, read time does not depend on how many other files the bucket holds;
 * on one that scans, it grows with them. It also prints the server's explain
 * of that chunk query.
 *
 *   npx tsc -p tsconfig.build.json
 *   mkdir -p /tmp/ota-bench-files-db
 *   .tools/bin/ferretdb --listen-addr 127.0.0.1:27991 --sqlite-url file:/tmp/ota-bench-files-db/ &
 *   MONGODB_URL=mongodb://127.0.0.1:27991/ node dist/bench/firmware-store.js
 *
 * It works in its own database, `ota_bench_files`, which it drops first, and a
 * temporary folder.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { MongoClient, ObjectId } from 'mongodb';
import { isFerretDb } from '../artifacts/choose-store';
import { createFolderStore } from '../artifacts/folder-store';
import { createGridFsStore, GRIDFS_BUCKET } from '../artifacts/gridfs-store';
import type { FirmwareFileStore } from '../artifacts/store';

const FILES = Number(process.env.BENCH_FILES ?? 20);
const FILE_MB = Number(process.env.BENCH_FILE_MB ?? 4);
const SIZE = FILE_MB * 1024 * 1024;
const TAIL = 64 * 1024;
const DB_NAME = 'ota_bench_files';

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
const fmt = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 1 });

async function drain(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return bytes;
}

async function readTimes(store: FirmwareFileStore, fileId: string): Promise<{ full: number; tail: number }> {
  let start = process.hrtime.bigint();
  const got = await drain(store.read(fileId));
  const full = ms(start);
  start = process.hrtime.bigint();
  const tailGot = await drain(store.read(fileId, { start: SIZE - TAIL, end: SIZE - 1 }));
  const tail = ms(start);
  if (got !== SIZE || tailGot !== TAIL) throw new Error(`read ${got}/${tailGot} bytes, expected ${SIZE}/${TAIL}`);
  return { full, tail };
}

async function measure(name: string, store: FirmwareFileStore): Promise<void> {
  const ids: string[] = [];
  let writeMs = 0;
  for (let i = 0; i < FILES; i += 1) {
    const start = process.hrtime.bigint();
    const stored = await store.write(`fw_bench_${i}`, Readable.from([Buffer.alloc(SIZE, i)]), SIZE);
    writeMs += ms(start);
    ids.push(stored.fileId);
    if (i === 0) {
      const one = await readTimes(store, stored.fileId);
      console.log(`${name}: 1 file stored: read whole ${fmt(one.full)} ms, last 64 KiB ${fmt(one.tail)} ms`);
    }
  }
  const first = await readTimes(store, ids[0]);
  const last = await readTimes(store, ids[ids.length - 1]);
  console.log(
    `${name}: ${FILES} files stored (write ${fmt(writeMs / FILES)} ms/file): ` +
      `read whole ${fmt(first.full)} / ${fmt(last.full)} ms (first/last file), ` +
      `last 64 KiB ${fmt(first.tail)} / ${fmt(last.tail)} ms`,
  );
}

async function main(): Promise<void> {
  const url = process.env.MONGODB_URL;
  if (!url) throw new Error('set MONGODB_URL (see the header of this file)');
  const client = await MongoClient.connect(url);
  const db = client.db(DB_NAME);
  await db.dropDatabase();
  console.log(`server: ${(await isFerretDb(db)) ? 'FerretDB' : 'MongoDB'}; ${FILES} files of ${FILE_MB} MiB`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-bench-files-'));
  try {
    await measure('gridfs', createGridFsStore(db));
    const explain = await db
      .collection(`${GRIDFS_BUCKET}.chunks`)
      .find({ files_id: new ObjectId(), n: { $gte: 0 } })
      .sort({ n: 1 })
      .explain();
    console.log(`gridfs chunk query explain: ${JSON.stringify(explain).slice(0, 600)}`);
    await measure('folder', createFolderStore(dir));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await db.dropDatabase();
    await client.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
