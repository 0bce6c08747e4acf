/**
 * Parsing and building OTA payloads (pure). Parsing is lenient where real SDKs
 * differ (method aliases in any case, numbers where strings are documented,
 * Python's string codes) and strict about everything else, answering with the
 * EnOS error code a device can understand.
 */
import { PayloadCodecError, type PayloadCodec } from './codec';
import type { UpstreamOtaKind } from './topics';

/** Both SDKs refuse to send a request of 512 KB or more; so do we. */
export const MAX_PAYLOAD_BYTES = 512 * 1024;

export const CODE = {
  ok: 200,
  /** The report was not stored (the database failed): the device should send it again. */
  serverError: 500,
  /** The Python SDK's ResponseCode for "too many requests". */
  tooManyRequests: 429,
  parameterError: 460,
  tooLarge: 1008,
  notJson: 1220,
  emptyPayload: 1251,
  methodNotConsistent: 1260,
} as const;

/** Method names per topic, lower-cased: docs, Java, Python (`ota.inform`, `Ota.device.getversion`) and legacy ones. */
const METHODS: Record<Exclude<UpstreamOtaKind, 'upgrade_reply'>, readonly string[]> = {
  inform: ['ota.device.inform', 'ota.inform'],
  // `ota.device.process` is a typo in one EnOS doc table; devices built from that table send it.
  progress: ['ota.device.progress', 'ota.progress', 'ota.device.process'],
  getversion: ['ota.device.getversion', 'ota.getversion'],
  request: ['ota.request', 'ota.device.request'],
};

export interface ParseError {
  ok: false;
  /** The request id when one could be read, so the error reply still correlates. */
  id: string;
  code: number;
  message: string;
}

export type Upstream =
  | { kind: 'inform'; id: string; version: string }
  | { kind: 'progress'; id: string; step: number; desc: string }
  | { kind: 'getversion' | 'request'; id: string }
  | { kind: 'upgrade_reply'; id: string; code: number; message: string };

export type ParseResult = ({ ok: true } & Upstream) | ParseError;

const fail = (id: string, code: number, message: string): ParseError => ({ ok: false, id, code, message });

/** Decodes the JSON object of any upstream payload, or says which EnOS code refuses it. */
function decodeObject(payload: Buffer): { ok: true; value: Record<string, unknown> } | ParseError {
  if (payload.length === 0) return fail('', CODE.emptyPayload, 'empty payload');
  if (payload.length >= MAX_PAYLOAD_BYTES) return fail('', CODE.tooLarge, 'payload of 512 KB or more');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch {
    return fail('', CODE.notJson, 'payload is not UTF-8 JSON');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('', CODE.notJson, 'payload is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('', CODE.parameterError, 'payload must be a JSON object');
  }
  return { ok: true, value: value as Record<string, unknown> };
}

/** Ids are decimal strings in every SDK; the docs call them Long, so accept an integer too. */
export function readId(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '' && value.length <= 64) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** An integer given as a JSON integer or a decimal string (Python sends codes and steps as strings). */
export function readInteger(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*-?\d{1,9}\s*$/.test(value)) return Number.parseInt(value, 10);
  return undefined;
}

export function parseUpstream(kind: UpstreamOtaKind, payload: Buffer): ParseResult {
  const decoded = decodeObject(payload);
  if (!decoded.ok) return decoded;
  const msg = decoded.value;
  const id = readId(msg.id);
  if (id === undefined) return fail('', CODE.parameterError, 'id must be a decimal string');

  if (kind === 'upgrade_reply') {
    const reply = replyFields(id, msg);
    return reply.ok ? { ...reply, kind } : reply;
  }

  if (typeof msg.method !== 'string') return fail(id, CODE.parameterError, 'method must be a string');
  if (!METHODS[kind].includes(msg.method.toLowerCase())) {
    return fail(id, CODE.methodNotConsistent, `method "${msg.method.slice(0, 64)}" does not belong to this topic`);
  }
  const params = msg.params === undefined || msg.params === null ? {} : msg.params;
  if (typeof params !== 'object') return fail(id, CODE.parameterError, 'params must be an object');
  const p = params as Record<string, unknown>;

  switch (kind) {
    case 'inform': {
      const v = p.version;
      // The Python sample reports `1.0` as a number.
      const version = typeof v === 'number' && Number.isFinite(v) ? String(v) : v;
      if (typeof version !== 'string' || version.trim() === '' || version.length > 128) {
        return fail(id, CODE.parameterError, 'params.version must be a non-empty string');
      }
      return { ok: true, kind, id, version: version.trim() };
    }
    case 'progress': {
      const step = readInteger(p.step);
      if (step === undefined || step > 100) {
        return fail(id, CODE.parameterError, 'params.step must be an integer up to 100');
      }
      const desc = p.desc === undefined || p.desc === null ? '' : p.desc;
      if (typeof desc !== 'string') return fail(id, CODE.parameterError, 'params.desc must be a string');
      return { ok: true, kind, id, step, desc: desc.slice(0, 1024) };
    }
    case 'getversion':
    case 'request':
      return { ok: true, kind, id };
  }
}

/**
 * The payload of a compressed session (Java 2.x `compress=`): decompressed,
 * then parsed as any other. One that does not decompress is refused like one
 * that does not parse; one that inflates past the size limit, as too large.
 */
export function parseCompressedUpstream(kind: UpstreamOtaKind, payload: Buffer, codec: PayloadCodec): ParseResult {
  const plain = decompress(payload, codec);
  return plain.ok ? parseUpstream(kind, plain.value) : plain;
}

function decompress(payload: Buffer, codec: PayloadCodec): { ok: true; value: Buffer } | ParseError {
  if (payload.length === 0) return fail('', CODE.emptyPayload, 'empty payload');
  if (payload.length >= MAX_PAYLOAD_BYTES) return fail('', CODE.tooLarge, 'payload of 512 KB or more');
  try {
    return { ok: true, value: codec.decode(payload, MAX_PAYLOAD_BYTES) };
  } catch (err) {
    if (!(err instanceof PayloadCodecError)) throw err;
    return fail('', err.code === 'too_large' ? CODE.tooLarge : CODE.notJson, err.message);
  }
}

/** A device's answer to a command: `{id, code, message?, data?}`. */
export interface CommandReply {
  ok: true;
  id: string;
  code: number;
  message: string;
}

/** `code` as an integer or Python's decimal string; `message` optional (Java leaves nulls out). */
function replyFields(id: string, msg: Record<string, unknown>): CommandReply | ParseError {
  const code = readInteger(msg.code);
  if (code === undefined) return fail(id, CODE.parameterError, 'code must be an integer');
  const message = msg.message === undefined || msg.message === null ? '' : msg.message;
  if (typeof message !== 'string') return fail(id, CODE.parameterError, 'message must be a string');
  return { ok: true, id, code, message };
}

/** Any command reply (e.g. to `thing.activate.info`), decompressed first on a compressed session. */
export function parseCommandReply(payload: Buffer, codec?: PayloadCodec): CommandReply | ParseError {
  const plain = codec ? decompress(payload, codec) : { ok: true as const, value: payload };
  if (!plain.ok) return plain;
  const decoded = decodeObject(plain.value);
  if (!decoded.ok) return decoded;
  const id = readId(decoded.value.id);
  if (id === undefined) return fail('', CODE.parameterError, 'id must be a decimal string');
  return replyFields(id, decoded.value);
}

/**
 * `{"id":"5","code":200,"data":{},"message":""}`. The id is echoed as a JSON
 * string (Python concatenates it and throws on a number).
 */
export function buildReply(id: string, code: number, data: unknown, message = ''): Buffer {
  return Buffer.from(JSON.stringify({ id, code, data, message }), 'utf8');
}
