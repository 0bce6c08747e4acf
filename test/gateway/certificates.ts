/**
 * Certificates made at test time with Debian's openssl: a CA, the broker's
 * certificate for 127.0.0.1, device certificates naming `{pk}/{dk}`, and one
 * from a CA nobody trusts. Nothing is checked in; each run makes its own.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Pem {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

export interface TestPki {
  dir: string;
  caFile: string;
  ca: Buffer;
  server: Pem;
  /** A client certificate whose subject CN is `name`. */
  client(name: string, opts?: { untrusted?: boolean; san?: string }): Pem;
  remove(): void;
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

function keyAndRequest(dir: string, base: string, subject: string): void {
  openssl(dir, [
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${base}.key`,
    '-out',
    `${base}.csr`,
    '-subj',
    subject,
  ]);
}

function selfSignedCa(dir: string, base: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-keyout',
    `${base}.key`,
    '-out',
    `${base}.crt`,
    '-subj',
    `/CN=${base} test CA`,
  ]);
}

function sign(dir: string, base: string, ca: string, extensions: string): void {
  fs.writeFileSync(path.join(dir, `${base}.ext`), extensions);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${base}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${base}.crt`,
    '-days',
    '2',
    '-extfile',
    `${base}.ext`,
  ]);
}

function pem(dir: string, base: string): Pem {
  const certFile = path.join(dir, `${base}.crt`);
  const keyFile = path.join(dir, `${base}.key`);
  return { certFile, keyFile, cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
}

export function makeTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-pki-'));
  selfSignedCa(dir, 'ca');
  selfSignedCa(dir, 'rogue');
  keyAndRequest(dir, 'server', '/CN=localhost');
  sign(dir, 'server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  let n = 0;
  return {
    dir,
    caFile: path.join(dir, 'ca.crt'),
    ca: fs.readFileSync(path.join(dir, 'ca.crt')),
    server: pem(dir, 'server'),
    client(name, opts = {}) {
      n += 1;
      const base = `client${n}`;
      // A "/" in the CN is escaped for -subj.
      keyAndRequest(dir, base, `/CN=${name.replace(/\//g, '\\/')}`);
      const san = opts.san ? `subjectAltName=${opts.san}\n` : '';
      sign(dir, base, opts.untrusted ? 'rogue' : 'ca', `${san}extendedKeyUsage=clientAuth\n`);
      return pem(dir, base);
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
