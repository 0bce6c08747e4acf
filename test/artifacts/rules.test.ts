/** The pure rules of firmware files: byte ranges, signed URLs, the upload claim and sign check, the settings. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseUploadClaim, uploadRules } from '../../artifacts/firmware-files';
import { decideRange, etagOf, parseRange } from '../../artifacts/range';
import { checkSignature, downloadUrl, signFileUrl } from '../../artifacts/signed-url';
import { ConfigError, DOWNLOAD_SIGNING_KEY_FILE, loadConfig } from '../../config/config';
import { isOtaError } from '../../domain/errors';

describe('parseRange', () => {
  it.each([
    ['bytes=0-9', { start: 0, end: 9 }],
    ['bytes=90-', { start: 90, end: 99 }],
    ['bytes=-10', { start: 90, end: 99 }],
    ['bytes=-1000', { start: 0, end: 99 }],
    ['bytes=95-200', { start: 95, end: 99 }],
    ['BYTES = 5 - 6', { start: 5, end: 6 }],
    ['bytes=100-', 'unsatisfiable'],
    ['bytes=100-200', 'unsatisfiable'],
    ['bytes=-0', 'unsatisfiable'],
    ['bytes=9-5', 'ignore'],
    ['bytes=0-1,5-6', 'ignore'],
    ['items=0-1', 'ignore'],
    ['bytes=-', 'ignore'],
    ['bytes=a-b', 'ignore'],
  ])('%s of 100 bytes → %j', (header, expected) => {
    expect(parseRange(header, 100)).toEqual(expected);
  });
});

describe('decideRange', () => {
  const etag = etagOf('abc');
  it('answers 304 to a matching If-None-Match (also a list, a weak form or *)', () => {
    for (const inm of [etag, `"x", ${etag}`, `W/${etag}`, '*']) {
      expect(decideRange({ ifNoneMatch: inm, range: 'bytes=0-1' }, 10, etag)).toEqual({ kind: 'not-modified' });
    }
    expect(decideRange({ ifNoneMatch: '"other"' }, 10, etag)).toEqual({ kind: 'full' });
  });
  it('serves the range only while If-Range names the current ETag', () => {
    expect(decideRange({ range: 'bytes=2-', ifRange: etag }, 10, etag)).toEqual({
      kind: 'partial',
      range: { start: 2, end: 9 },
    });
    expect(decideRange({ range: 'bytes=2-', ifRange: '"old"' }, 10, etag)).toEqual({ kind: 'full' });
    expect(decideRange({ range: 'bytes=10-' }, 10, etag)).toEqual({ kind: 'unsatisfiable' });
  });
});

describe('signed download URLs', () => {
  const opts = { baseUrl: 'https://ota.example.com/api', key: 'k'.repeat(64), ttlSec: 600 };
  const now = 1_800_000_000_000;
  const stored = downloadUrl(opts.baseUrl, 'fw_1');
  const parts = (url: string) => {
    const u = new URL(url);
    return { expires: u.searchParams.get('expires') ?? '', signature: u.searchParams.get('signature') ?? '' };
  };

  it('signs only URLs of ours, with a fresh expiry each time', () => {
    expect(signFileUrl(opts, 'https://cdn.example.com/fw.bin', now)).toBe('https://cdn.example.com/fw.bin');
    expect(signFileUrl(opts, 'https://ota.example.com/api/firmware-files/', now)).toMatch(/\/$/);
    const a = signFileUrl(opts, stored, now);
    const b = signFileUrl(opts, stored, now + 5000);
    expect(a.startsWith(`${stored}?expires=`)).toBe(true);
    expect(Number(parts(a).expires)).toBe(now / 1000 + 600);
    expect(a).not.toBe(b);
  });

  it('accepts its own signature until it expires, and nothing else', () => {
    const { expires, signature } = parts(signFileUrl(opts, stored, now));
    expect(checkSignature(opts.key, 'fw_1', expires, signature, now)).toBe('valid');
    expect(checkSignature(opts.key, 'fw_1', expires, signature, now + 600_000)).toBe('expired');
    expect(checkSignature(opts.key, 'fw_2', expires, signature, now)).toBe('forged');
    expect(checkSignature('other-key', 'fw_1', expires, signature, now)).toBe('forged');
    expect(checkSignature(opts.key, 'fw_1', String(Number(expires) + 1), signature, now)).toBe('forged');
    expect(checkSignature(opts.key, 'fw_1', undefined, signature, now)).toBe('forged');
    expect(checkSignature(opts.key, 'fw_1', expires, [signature], now)).toBe('forged');
    expect(checkSignature(opts.key, 'fw_1', '1e12', signature, now)).toBe('forged');
  });
});

describe('upload claim and sign check', () => {
  const stored = { size: 3, md5: 'a'.repeat(32), sha256: 'b'.repeat(64) };
  const rejects = (fn: () => unknown, path: string, code = 'invalid_request'): void => {
    try {
      fn();
    } catch (err) {
      expect(isOtaError(err) && err.code === code && err.details[0].path === path).toBe(true);
      return;
    }
    throw new Error('expected a 400');
  };

  it('infers the method from the sign length and lower-cases it', () => {
    expect(parseUploadClaim({ sign: 'A'.repeat(32) })).toEqual({ sign: 'a'.repeat(32), signMethod: 'md5' });
    expect(parseUploadClaim({ sign: 'b'.repeat(64) })).toEqual({ sign: 'b'.repeat(64), signMethod: 'sha256' });
    expect(parseUploadClaim({})).toEqual({});
    // Well-formed parameters that disagree with each other: 422, as the document declares.
    rejects(() => parseUploadClaim({ sign: 'a'.repeat(32), signMethod: 'sha256' }), 'query.sign', 'unprocessable');
    rejects(() => parseUploadClaim({ sign: ['a'] }), 'query.sign');
    rejects(() => parseUploadClaim({ signMethod: 'crc32' }), 'query.signMethod');
  });

  it('takes the digest of the claimed or current method, and refuses a mismatch or an empty file', () => {
    expect(uploadRules(stored, {}, 'md5')).toEqual({ sign: stored.md5, signMethod: 'md5' });
    expect(uploadRules(stored, { signMethod: 'sha256' }, 'md5')).toEqual({ sign: stored.sha256, signMethod: 'sha256' });
    expect(uploadRules(stored, { sign: stored.sha256, signMethod: 'sha256' }, 'md5').sign).toBe(stored.sha256);
    rejects(
      () => uploadRules(stored, { sign: 'c'.repeat(64), signMethod: 'sha256' }, 'md5'),
      'query.sign',
      'unprocessable',
    );
    rejects(() => uploadRules({ ...stored, size: 0 }, {}, 'md5'), 'body');
  });
});

describe('firmware file settings', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-files-config-'));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('generates the signing key once into the data folder, private, unless configured', () => {
    const first = loadConfig({ OTA_DATA_DIR: dataDir }).firmwareFiles;
    expect(first.signingKey).toMatch(/^[0-9a-f]{64}$/);
    expect(loadConfig({ OTA_DATA_DIR: dataDir }).firmwareFiles.signingKey).toBe(first.signingKey);
    expect(fs.statSync(path.join(dataDir, DOWNLOAD_SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(loadConfig({ OTA_DATA_DIR: dataDir, OTA_DOWNLOAD_SIGNING_KEY: 'set' }).firmwareFiles.signingKey).toBe('set');
  });

  it('defaults the download base to the API address and checks the settings', () => {
    const files = loadConfig({ OTA_DATA_DIR: dataDir, OTA_API_PORT: '9000' }).firmwareFiles;
    expect(files).toMatchObject({
      downloadBaseUrl: 'http://127.0.0.1:9000',
      store: 'auto',
      urlTtlSec: 3600,
      maxBytes: 512 * 1024 * 1024,
    });
    const base = loadConfig({ OTA_DATA_DIR: dataDir, OTA_DOWNLOAD_BASE_URL: 'https://ota.example.com/x/' });
    expect(base.firmwareFiles.downloadBaseUrl).toBe('https://ota.example.com/x');
    for (const env of [
      { OTA_FIRMWARE_STORE: 's3' },
      { OTA_DOWNLOAD_BASE_URL: 'ftp://x' },
      { OTA_DOWNLOAD_BASE_URL: 'https://x/?a=1' },
      { OTA_DOWNLOAD_URL_TTL_SEC: '0' },
      { OTA_FIRMWARE_MAX_BYTES: '-1' },
    ]) {
      expect(() => loadConfig({ OTA_DATA_DIR: dataDir, ...env })).toThrow(ConfigError);
    }
  });
});
