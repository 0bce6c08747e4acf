/**
 * The API on an ephemeral port against a private database on the suite's real
 * database, with the firmware-file settings a test chooses (limit, store) and
 * a data folder of its own, plus helpers to register firmware and sign URLs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import type { Db } from 'mongodb';
import { createApiApp } from '../../api/routes';
import { signFileUrl } from '../../artifacts/signed-url';
import { loadConfig, type Config } from '../../config/config';
import { createLogger, silentLogger } from '../../runtime/log';
import { freePort } from '../../runtime/net';
import { temporalAddress, testDb } from '../helpers/stack';

export interface FilesApi {
  url: string;
  db: Db;
  config: Config;
  dataDir: string;
  /** Registers firmware for pk1 without a file yet and returns its id. */
  addFirmware(version: string, signMethod?: 'md5' | 'sha256'): Promise<string>;
  upload(firmwareId: string, body: Buffer, query?: string, headers?: Record<string, string>): Promise<Response>;
  /** The download URL the worker would put into a command now (or at `atMs`). */
  signed(firmwareId: string, atMs?: number): string;
  close(): Promise<void>;
}

export async function startFilesApi(name: string, env: Record<string, string> = {}): Promise<FilesApi> {
  const mongo = await testDb(name);
  const dataDir = fs.mkdtempSync(path.join(process.env.OTA_TEST_TMP ?? os.tmpdir(), `${name}-`));
  const temporal = Connection.lazy({ address: temporalAddress() });
  // The port is chosen first: the download URLs the API stores must name it.
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    ...process.env,
    OTA_API_TOKEN: '',
    OTA_DATA_DIR: dataDir,
    OTA_DOWNLOAD_BASE_URL: url,
    ...env,
  });
  const app = await createApiApp({
    config,
    db: mongo.db,
    temporal,
    log: process.env.ART_DEBUG ? createLogger('api', 'debug') : silentLogger,
  });
  const server = app.listen(port, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return {
    url,
    db: mongo.db,
    config,
    dataDir,
    async addFirmware(version, signMethod = 'sha256') {
      const res = await fetch(`${url}/v1/firmwares`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ productKey: 'pk1', version, signMethod }),
      });
      if (res.status !== 201) throw new Error(`firmware not created: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { firmwareId: string }).firmwareId;
    },
    upload(firmwareId, body, query = '', headers = {}) {
      return fetch(`${url}/v1/firmwares/${firmwareId}/file${query}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', ...headers },
        body: new Uint8Array(body),
      });
    },
    signed(firmwareId, atMs = Date.now()) {
      const { signingKey, urlTtlSec } = config.firmwareFiles;
      return signFileUrl(
        { baseUrl: url, key: signingKey, ttlSec: urlTtlSec },
        `${url}/firmware-files/${firmwareId}`,
        atMs,
      );
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await temporal.close();
      await mongo.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
