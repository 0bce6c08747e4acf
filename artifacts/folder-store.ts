/**
 * Firmware files as plain files in `<dataDir>/firmware-files`, for the
 * embedded database, whose GridFS chunk reads scan the whole chunk collection.
 * Written to a temporary name and renamed, so a reader never sees half a file.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { DigestStream } from './digest';
import type { ByteRange } from './range';
import type { FirmwareFileStore, StoredFile } from './store';

export function createFolderStore(dataDir: string): FirmwareFileStore {
  const dir = path.join(dataDir, 'firmware-files');
  // File ids come from the firmware record, but are checked anyway: nothing outside `dir` is ever opened.
  const fileOf = (fileId: string): string => {
    if (!/^[A-Za-z0-9_-]+$/.test(fileId)) throw new Error(`not a firmware file id: ${fileId}`);
    return path.join(dir, fileId);
  };
  return {
    kind: 'folder',
    async write(firmwareId, body, maxBytes): Promise<StoredFile> {
      await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
      const fileId = `${firmwareId}-${randomBytes(8).toString('hex')}`;
      const target = fileOf(fileId);
      const partial = `${target}.part`;
      const digest = new DigestStream(maxBytes);
      try {
        await pipeline(body, digest, fs.createWriteStream(partial, { mode: 0o600 }));
        await fs.promises.rename(partial, target);
      } catch (error) {
        await fs.promises.rm(partial, { force: true });
        throw error;
      }
      return { fileId, store: 'folder', ...digest.result() };
    },
    async has(fileId) {
      return fs.promises.access(fileOf(fileId)).then(
        () => true,
        () => false,
      );
    },
    read(fileId: string, range?: ByteRange): Readable {
      return fs.createReadStream(fileOf(fileId), range ? { start: range.start, end: range.end } : {});
    },
    async remove(fileId) {
      await fs.promises.rm(fileOf(fileId), { force: true });
    },
  };
}
