/**
 * Payload compression of Java 2.x SDK sessions, chosen by `compress=` inside the
 * braces of signClientId (gateway/auth.ts). With anything but DEFAULT the SDK
 * compresses every payload it publishes and decompresses every payload it
 * receives, so a session has one codec for both directions.
 *
 * The SDK's GzipCompressor runs the whole payload through java.util.zip's
 * GZIPOutputStream / GZIPInputStream: a plain gzip stream (RFC 1952), not zlib
 * or raw deflate. Its LZ4 and LZO compressors write lz4-java and lzo-java
 * block streams, which node:zlib cannot read or write, so those are refused.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

export interface PayloadCodec {
  /** The SDK's CompressType name, for logs. */
  readonly name: string;
  encode(payload: Buffer): Buffer;
  /** Throws PayloadCodecError when the payload is not in this codec's format or grows past `maxBytes`. */
  decode(payload: Buffer, maxBytes: number): Buffer;
}

export type PayloadCodecErrorCode = 'corrupt' | 'too_large';

export class PayloadCodecError extends Error {
  override readonly name = 'PayloadCodecError';
  constructor(
    readonly code: PayloadCodecErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const gzip: PayloadCodec = {
  name: 'GZIP',
  encode: (payload) => gzipSync(payload),
  decode(payload, maxBytes) {
    try {
      // The cap stops a few hundred bytes of gzip from inflating into a huge buffer.
      return gunzipSync(payload, { maxOutputLength: maxBytes });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new PayloadCodecError('too_large', `payload decompresses to more than ${maxBytes} bytes`);
      }
      const reason = err instanceof Error ? err.message : String(err);
      throw new PayloadCodecError(
        'corrupt',
        `payload is not gzip although the session logged in with GZIP (${reason})`,
      );
    }
  },
};

/** Why the SDK's other compressors are refused (the reason names the type, so it is a bounded metric key). */
const UNSUPPORTED = new Map([
  ['LZ4', 'the SDK writes an lz4-java LZ4BlockOutputStream, which node:zlib cannot read'],
  ['LZO', 'the SDK writes an lzo-java LZO1X stream, which node:zlib cannot read'],
]);

export type CodecChoice = { ok: true; codec: PayloadCodec | undefined } | { ok: false; reason: string; detail: string };

/**
 * The codec of a session from its `compress=` value: none for an absent value
 * or DEFAULT (raw JSON), gzip for GZIP. Case-insensitive: the enum's own type
 * strings are lower-case ("gzip").
 */
export function codecFor(compress: string | undefined): CodecChoice {
  if (compress === undefined) return { ok: true, codec: undefined };
  const name = compress.toUpperCase();
  if (name === 'DEFAULT') return { ok: true, codec: undefined };
  if (name === 'GZIP') return { ok: true, codec: gzip };
  const why = UNSUPPORTED.get(name);
  if (why) return { ok: false, reason: `unsupported compression ${name}`, detail: `only DEFAULT and GZIP; ${why}` };
  return { ok: false, reason: 'unknown compression', detail: 'the SDK knows DEFAULT, GZIP, LZ4 and LZO' };
}
