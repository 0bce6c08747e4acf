/**
 * Secrets that are generated when not configured: once per data folder, stored there with
 * mode 0600, and read by every process of that stack (they share the data folder), so no
 * secret that anyone could read in the source opens anything. The service identity's MQTT
 * password is one; the key that signs firmware download URLs is another.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SERVICE_SECRET_FILE = 'service-mqtt-password';

export function readOrCreateServiceSecret(dataDir: string): string {
  return readOrCreateSecret(dataDir, SERVICE_SECRET_FILE);
}

export function readOrCreateSecret(dataDir: string, fileName: string): string {
  const file = path.join(dataDir, fileName);
  const existing = readSecret(file);
  if (existing) return existing;
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Written whole to a private temporary file, then linked into place: link() fails when
  // another process got there first, so two processes starting together agree on one secret
  // and none of them ever reads a half-written file.
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, crypto.randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  const secret = readSecret(file);
  if (!secret) throw new Error(`${file} is empty: delete it and start again`);
  return secret;
}

function readSecret(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
