/**
 * Short-lived download URLs that carry their own authorisation, so devices
 * fetch firmware without an API token: `{base}/firmware-files/{firmwareId}`
 * plus `expires` (Unix seconds) and `signature`, an HMAC-SHA256 of both under
 * the stack's signing key. Pure: the key and the clock come from the caller.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const DOWNLOAD_PATH = '/firmware-files/';

export interface UrlSigningOptions {
  /** Where devices reach the API, e.g. `https://ota.example.com`; no trailing slash. */
  baseUrl: string;
  key: string;
  ttlSec: number;
}

export type SignatureCheck = 'valid' | 'expired' | 'forged';

/** The unsigned address stored as the firmware's fileUrl once its file is uploaded. */
export function downloadUrl(baseUrl: string, firmwareId: string): string {
  return `${baseUrl}${DOWNLOAD_PATH}${encodeURIComponent(firmwareId)}`;
}

export function signature(key: string, firmwareId: string, expires: number): string {
  return createHmac('sha256', key).update(`${firmwareId}\n${expires}`).digest('base64url');
}

/**
 * Signs `fileUrl` when it is one of ours (our base and download path), with a
 * fresh expiry; any other URL (firmware hosted elsewhere) passes unchanged.
 */
export function signFileUrl(opts: UrlSigningOptions, fileUrl: string, nowMs: number): string {
  const prefix = `${opts.baseUrl}${DOWNLOAD_PATH}`;
  if (!fileUrl.startsWith(prefix)) return fileUrl;
  const rest = fileUrl.slice(prefix.length).split(/[?#]/)[0];
  if (rest === '' || rest.includes('/')) return fileUrl;
  const firmwareId = decodeURIComponent(rest);
  const expires = Math.floor(nowMs / 1000) + opts.ttlSec;
  return `${prefix}${rest}?expires=${expires}&signature=${signature(opts.key, firmwareId, expires)}`;
}

export function checkSignature(
  key: string,
  firmwareId: string,
  expires: unknown,
  given: unknown,
  nowMs: number,
): SignatureCheck {
  if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires) || typeof given !== 'string') return 'forged';
  const expected = Buffer.from(signature(key, firmwareId, Number(expires)));
  const actual = Buffer.from(given);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return 'forged';
  // Checked after the HMAC, so an expiry that was tampered with reads as forged, not expired.
  return Number(expires) * 1000 <= nowMs ? 'expired' : 'valid';
}

/** The signer a process that sends firmware offers to devices uses (the worker's commands, the gateway's getversion replies). */
export function fileUrlSigner(
  files: { downloadBaseUrl: string; signingKey: string; urlTtlSec: number },
  now: () => number = Date.now,
): (fileUrl: string) => string {
  const opts = { baseUrl: files.downloadBaseUrl, key: files.signingKey, ttlSec: files.urlTtlSec };
  return (fileUrl) => signFileUrl(opts, fileUrl, now());
}
