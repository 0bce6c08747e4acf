/**
 * Firmware files in MongoDB GridFS (bucket `firmwareFiles`), so every API
 * process sharing the database serves the same files.
 */
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, MongoRuntimeError, ObjectId, type Db } from 'mongodb';
import type { Readable } from 'node:stream';
import { DigestStream } from './digest';
import type { ByteRange } from './range';
import type { FirmwareFileStore, StoredFile } from './store';

export const GRIDFS_BUCKET = 'firmwareFiles';

export function createGridFsStore(db: Db): FirmwareFileStore {
  const bucket = new GridFSBucket(db, { bucketName: GRIDFS_BUCKET });
  return {
    kind: 'gridfs',
    async write(firmwareId, body, maxBytes): Promise<StoredFile> {
      const upload = bucket.openUploadStream(firmwareId, { metadata: { firmwareId } });
      const digest = new DigestStream(maxBytes);
      try {
        await pipeline(body, digest, upload);
      } catch (error) {
        // Chunks already written belong to no file document yet: abort() removes them.
        await upload.abort().catch(() => undefined);
        throw error;
      }
      return { fileId: upload.id.toHexString(), store: 'gridfs', ...digest.result() };
    },
    async has(fileId) {
      return (await bucket.find({ _id: new ObjectId(fileId) }, { limit: 1 }).toArray()).length === 1;
    },
    read(fileId: string, range?: ByteRange): Readable {
      // GridFS's end is exclusive, HTTP's inclusive.
      return bucket.openDownloadStream(new ObjectId(fileId), range ? { start: range.start, end: range.end + 1 } : {});
    },
    async remove(fileId) {
      try {
        await bucket.delete(new ObjectId(fileId));
      } catch (error) {
        if (!(error instanceof MongoRuntimeError && /not found/i.test(error.message))) throw error;
      }
    },
  };
}
