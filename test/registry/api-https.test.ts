/**
 * HTTPS from certificate files: a self-signed certificate made at test time
 * with openssl, the API serving /v1 over TLS (and nothing over plain HTTP on
 * that port), and a start refused when only one of the two files is set.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { createApiServer } from '../../api/listener';
import { ConfigError, loadConfig } from '../../config/config';
import { startRegistryApi, type RegistryApi } from './api-harness';

function get(url: string, ca?: Buffer): Promise<{ status: number; body: string }> {
  const lib = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { ca, headers: { authorization: 'Bearer tls-t0ken' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

describe('HTTPS', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-tls-'));
  const cert = path.join(dir, 'api.crt');
  const key = path.join(dir, 'api.key');
  let api: RegistryApi;
  beforeAll(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    api = await startRegistryApi('api_https', {
      apiToken: 'tls-t0ken',
      env: { OTA_API_TLS_CERT: cert, OTA_API_TLS_KEY: key },
    });
  });
  afterAll(async () => {
    await api?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the API over TLS with the configured certificate', async () => {
    expect(api.url.startsWith('https://')).toBe(true);
    const res = await get(`${api.url}/v1/devices`, fs.readFileSync(cert));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ items: [], nextCursor: null });
  });

  it('does not answer plain HTTP on that port, nor a client that does not trust the certificate', async () => {
    await expect(get(api.url.replace('https:', 'http:') + '/v1/devices')).rejects.toThrow();
    await expect(get(`${api.url}/v1/devices`)).rejects.toThrow(/self-signed|certificate/);
  });

  it('refuses half a configuration and names an unreadable file', () => {
    expect(() => loadConfig({ OTA_API_TLS_CERT: cert })).toThrow(ConfigError);
    expect(() => loadConfig({ OTA_API_TLS_KEY: key })).toThrow(/OTA_API_TLS_CERT and OTA_API_TLS_KEY/);
    const missing = loadConfig({ OTA_API_TLS_CERT: path.join(dir, 'nope.crt'), OTA_API_TLS_KEY: key }).apiHttp;
    expect(() => createApiServer(() => undefined, missing)).toThrow(/OTA_API_TLS_CERT: cannot read .*nope\.crt/);
  });
});
