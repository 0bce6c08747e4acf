/**
 * Where firmware files live, behind one interface: GridFS on a real MongoDB
 * (shared by every API process), or the data folder on the embedded stack.
 * A write never replaces a file in place: it creates a new file id, so a
 * failed or refused upload leaves the firmware's current file untouched.
 */
import type { Readable } from 'node:stream';
import type { ByteRange } from './range';
import type { FileDigest } from './digest';

export type StoreKind = 'gridfs' | 'folder';

export interface StoredFile extends FileDigest {
  /** The store's own name for the bytes (a GridFS ObjectId as hex, or a file name). */
  fileId: string;
  store: StoreKind;
}

export interface FirmwareFileStore {
  readonly kind: StoreKind;
  /**
   * Streams `body` into a new file, measuring it on the way. Rejects with
   * FileTooLarge past `maxBytes`; whatever was written by then is removed.
   */
  write(firmwareId: string, body: Readable, maxBytes: number): Promise<StoredFile>;
  /** Whether the store still has the file (a record may outlive bytes removed by hand). */
  has(fileId: string): Promise<boolean>;
  /** The file's bytes, or one range of them. */
  read(fileId: string, range?: ByteRange): Readable;
  /** Removes the file; a file that is already gone is not an error. */
  remove(fileId: string): Promise<void>;
}
