/**
 * The API's server: plain HTTP, or HTTPS when a certificate and key are
 * configured. The files are read once at start; a missing or unreadable file
 * stops the start with its name rather than serving without TLS.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { RequestListener } from 'node:http';
import { ConfigError, type ApiHttpConfig } from '../config/config';

function readPem(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${setting}: cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function createApiServer(app: RequestListener, cfg: ApiHttpConfig): http.Server | https.Server {
  if (cfg.tlsCertFile === undefined || cfg.tlsKeyFile === undefined) return http.createServer(app);
  return https.createServer(
    { cert: readPem(cfg.tlsCertFile, 'OTA_API_TLS_CERT'), key: readPem(cfg.tlsKeyFile, 'OTA_API_TLS_KEY') },
    app,
  );
}

/** The scheme clients use to reach this server. */
export const apiScheme = (cfg: ApiHttpConfig): 'http' | 'https' => (cfg.tlsCertFile ? 'https' : 'http');
