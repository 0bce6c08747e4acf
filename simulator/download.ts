/**
 * How a simulated device fetches its firmware: plain HTTP GET of the command's
 * fileUrl, resumed with `Range` (and `If-Range`, so a file that changed
 * meanwhile is fetched whole again) when the connection is cut, then the
 * digest named by signMethod compared with the command's sign.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';

export interface DownloadOptions {
  /** Cuts the first response after this many bytes, as a flaky link would. */
  cutAfterBytes?: number;
  /** Attempts in all, the first included. */
  maxAttempts?: number;
}

export interface DownloadResult {
  bytes: Buffer;
  /** The Range header of each attempt ('' for none) and the status it got. */
  attempts: { range: string; status: number }[];
}

export class DownloadFailed extends Error {
  override readonly name = 'DownloadFailed';
}

/** A URL of this service's download endpoint: signed, so the device can fetch it without a token. */
export function isSignedDownloadUrl(fileUrl: unknown): fileUrl is string {
  if (typeof fileUrl !== 'string') return false;
  try {
    const url = new URL(fileUrl);
    return (
      url.pathname.includes('/firmware-files/') && url.searchParams.has('expires') && url.searchParams.has('signature')
    );
  } catch {
    return false;
  }
}

export function signMatches(bytes: Buffer, signMethod: unknown, sign: unknown): boolean {
  const method = signMethod === 'md5' ? 'md5' : signMethod === 'sha256' ? 'sha256' : undefined;
  if (!method || typeof sign !== 'string') return false;
  return createHash(method).update(bytes).digest('hex') === sign.toLowerCase();
}

export async function download(fileUrl: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const chunks: Buffer[] = [];
  let have = 0;
  let etag: string | undefined;
  const attempts: DownloadResult['attempts'] = [];
  const maxAttempts = opts.maxAttempts ?? 5;
  for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
    const range = have > 0 ? `bytes=${have}-` : '';
    const headers: Record<string, string> = range ? { range, ...(etag ? { 'if-range': etag } : {}) } : {};
    const cutAt = attempt === 0 ? opts.cutAfterBytes : undefined;
    const res = await get(fileUrl, headers);
    attempts.push({ range, status: res.statusCode ?? 0 });
    if (res.statusCode === 200) {
      chunks.length = 0;
      have = 0;
    } else if (res.statusCode !== 206) {
      res.resume();
      throw new DownloadFailed(`GET ${new URL(fileUrl).pathname} answered ${res.statusCode}`);
    }
    etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined;
    const complete = await receive(res, cutAt, (chunk) => {
      chunks.push(chunk);
      have += chunk.length;
    });
    if (complete) return { bytes: Buffer.concat(chunks), attempts };
  }
  throw new DownloadFailed(`no complete download of ${new URL(fileUrl).pathname} in ${maxAttempts} attempts`);
}

function get(fileUrl: string, headers: Record<string, string>): Promise<http.IncomingMessage> {
  const client = fileUrl.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(fileUrl, { headers }, resolve);
    req.on('error', (error) => reject(new DownloadFailed(error.message)));
  });
}

/** Reads the body; false when the connection ended early (or was cut on purpose after `cutAt` bytes). */
function receive(
  res: http.IncomingMessage,
  cutAt: number | undefined,
  take: (chunk: Buffer) => void,
): Promise<boolean> {
  return new Promise((resolve) => {
    let received = 0;
    res.on('data', (chunk: Buffer) => {
      if (cutAt !== undefined && received + chunk.length >= cutAt) {
        take(chunk.subarray(0, cutAt - received));
        received = cutAt;
        res.destroy();
        return;
      }
      received += chunk.length;
      take(chunk);
    });
    res.on('end', () => resolve(res.complete));
    res.on('close', () => resolve(res.complete && !res.destroyed));
    res.on('error', () => resolve(false));
  });
}
