/**
 * A pass-through stream that measures what flows into storage: byte count,
 * md5 and sha256 in one pass, and the upload limit enforced as bytes arrive
 * (a chunked upload has no Content-Length to check beforehand).
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface FileDigest {
  size: number;
  md5: string;
  sha256: string;
}

export class FileTooLarge extends Error {
  override readonly name = 'FileTooLarge';
  constructor(readonly maxBytes: number) {
    super(`the file is larger than the limit of ${maxBytes} bytes`);
  }
}

export class DigestStream extends Transform {
  private size = 0;
  private readonly md5 = createHash('md5');
  private readonly sha256 = createHash('sha256');

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) return callback(new FileTooLarge(this.maxBytes));
    this.md5.update(chunk);
    this.sha256.update(chunk);
    callback(null, chunk);
  }

  /** Valid once the stream has finished. */
  result(): FileDigest {
    return { size: this.size, md5: this.md5.digest('hex'), sha256: this.sha256.digest('hex') };
  }
}
