/**
 * The EnOS device login signature, as pure functions: parse
 * the client id and username, compute the "sign", verify a password. No I/O,
 * so the simulator signs with exactly the code the gateway verifies with.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type DigestName = 'sha256' | 'sha1' | 'md5';

/** What the client id says about the login. */
export interface ClientIdInfo {
  /** First segment: also the `clientId` value inside the signature. */
  signClientId: string;
  secureMode: string;
  /** As sent (undefined when absent: the SDKs then sign with SHA-1). */
  signMethod: string | undefined;
  /** Opaque: SDKs fix it once and reuse it on every reconnect, so no freshness check. */
  timestamp: string;
  /** Java 2.x puts `compress=…` inside braces in signClientId; anything but DEFAULT means compressed payloads. */
  compress: string | undefined;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * `{signClientId}|securemode=2,signmethod=sha256,timestamp=1548753362502|`.
 * The parameters are the segment after the last inner `|`, so a signClientId
 * that itself contains `|` still parses; items are trimmed (a doc example has `, signmethod`).
 */
export function parseClientId(clientId: string): ParseResult<ClientIdInfo> {
  if (!clientId.endsWith('|')) return { ok: false, reason: 'client id does not end with "|"' };
  const body = clientId.slice(0, -1);
  const cut = body.lastIndexOf('|');
  if (cut <= 0) return { ok: false, reason: 'client id has no "{signClientId}|params|" form' };
  const signClientId = body.slice(0, cut);
  const params = new Map<string, string>();
  for (const item of body.slice(cut + 1).split(',')) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) return { ok: false, reason: `client id parameter "${item.trim()}" is not key=value` };
    params.set(item.slice(0, eq).trim().toLowerCase(), item.slice(eq + 1).trim());
  }
  const secureMode = params.get('securemode');
  const timestamp = params.get('timestamp');
  if (!secureMode) return { ok: false, reason: 'client id has no securemode' };
  if (timestamp === undefined || timestamp === '') return { ok: false, reason: 'client id has no timestamp' };
  const compress = /[{,]\s*compress=([^,}]*)/i.exec(signClientId)?.[1]?.trim();
  return {
    ok: true,
    value: { signClientId, secureMode, signMethod: params.get('signmethod'), timestamp, compress },
  };
}

/** `{deviceKey}&{productKey}`. */
export function parseUsername(username: string): ParseResult<{ deviceKey: string; productKey: string }> {
  const parts = username.split('&');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    return { ok: false, reason: 'username is not "deviceKey&productKey"' };
  }
  return { ok: true, value: { deviceKey: parts[0], productKey: parts[1] } };
}

/** Java `SignMethod` names, case-insensitive; the `hmac*` names are plain digests too. Absent → SHA-1. */
export function digestFor(signMethod: string | undefined): DigestName | undefined {
  if (signMethod === undefined || signMethod === '') return 'sha1';
  switch (signMethod.toLowerCase()) {
    case 'sha256':
    case 'hmacsha256':
      return 'sha256';
    case 'sha1':
    case 'hmacsha1':
      return 'sha1';
    case 'md5':
    case 'hmacmd5':
      return 'md5';
    default:
      return undefined;
  }
}

export interface SignInput {
  signClientId: string;
  deviceKey: string;
  productKey: string;
  timestamp: string;
  secret: string;
}

/** The string that gets hashed: sorted name+value pairs, then the secret appended. */
export function signContent(input: SignInput): string {
  return (
    `clientId${input.signClientId}deviceKey${input.deviceKey}` +
    `productKey${input.productKey}timestamp${input.timestamp}${input.secret}`
  );
}

/** Lower-case hex digest; callers upper-case it when imitating an SDK that does. */
export function computeSign(input: SignInput, digest: DigestName): string {
  return createHash(digest).update(signContent(input), 'utf8').digest('hex');
}

/** Case-insensitive hex comparison in constant time (for equal lengths; a length mismatch is no secret). */
export function signMatches(expectedHex: string, password: string): boolean {
  const a = Buffer.from(expectedHex.toLowerCase(), 'utf8');
  const b = Buffer.from(password.toLowerCase(), 'utf8');
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** Constant-time equality for the service password: compare digests so lengths leak nothing. */
export function secretEquals(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b);
}

export interface CredentialOptions {
  productKey: string;
  deviceKey: string;
  timestamp: string;
  signMethod?: string;
  upperCase?: boolean;
  signClientId?: string;
}

export interface MqttCredentials {
  clientId: string;
  username: string;
  password: string;
}

/** Builds the three CONNECT strings a device SDK sends (used by the simulator and tests). */
export function deviceCredentials(opts: CredentialOptions & { deviceSecret: string }): MqttCredentials {
  return credentials(opts, '2', opts.deviceSecret);
}

/** The same for a dynamically activating device (securemode=3): signed with its product's secret. */
export function activationCredentials(opts: CredentialOptions & { productSecret: string }): MqttCredentials {
  return credentials(opts, '3', opts.productSecret);
}

function credentials(opts: CredentialOptions, secureMode: '2' | '3', secret: string): MqttCredentials {
  const signMethod = opts.signMethod ?? 'sha256';
  const digest = digestFor(signMethod);
  if (!digest) throw new Error(`unknown sign method "${signMethod}"`);
  const signClientId = opts.signClientId ?? opts.deviceKey;
  const sign = computeSign(
    { signClientId, deviceKey: opts.deviceKey, productKey: opts.productKey, timestamp: opts.timestamp, secret },
    digest,
  );
  return {
    clientId: `${signClientId}|securemode=${secureMode},signmethod=${signMethod},timestamp=${opts.timestamp}|`,
    username: `${opts.deviceKey}&${opts.productKey}`,
    password: opts.upperCase ? sign.toUpperCase() : sign,
  };
}
