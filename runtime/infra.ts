/**
 * The embedded stack's infrastructure: where the install step put each binary,
 * and how to start the Temporal dev server and the MongoDB-compatible database.
 * The launcher and the test harness both start them through here, with the
 * same flags, so tests run against what users run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { MongoClient } from 'mongodb';
import { SEARCH_ATTRIBUTES, searchAttributeCliArgs } from '../workflows/search-attributes';
import { ManagedProcess } from './managed-process';
import { isPortOpen, waitUntil } from './net';

export interface ToolPaths {
  temporal: string;
  temporalTestServer: string;
  ferretdb: string;
}

export function toolPaths(toolsDir: string): ToolPaths {
  return {
    temporal: path.join(toolsDir, 'venv', 'bin', 'temporal'),
    temporalTestServer: path.join(toolsDir, 'venv', 'bin', 'temporal-test-server'),
    ferretdb: path.join(toolsDir, 'bin', 'ferretdb'),
  };
}

export function requireTool(file: string, what: string): string {
  if (!fs.existsSync(file)) {
    throw new Error(`${what} is not installed at ${file}: run "bash scripts/install.sh" (the README commands do)`);
  }
  return file;
}

export interface TemporalDevServerOptions {
  toolsDir: string;
  port: number;
  /** Omit for a headless server (tests). */
  uiPort?: number;
  /** Omit for an in-memory server (tests). */
  dbFile?: string;
  /** The server's own Prometheus metrics (its store's requests by operation, among others); none when omitted. */
  metricsPort?: number;
  logFile?: string;
  detached?: boolean;
}

export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<ManagedProcess> {
  const bin = requireTool(toolPaths(opts.toolsDir).temporal, 'The Temporal CLI');
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--log-level', 'warn'];
  args.push(...searchAttributeCliArgs());
  // WAL keeps the single SQLite connection from serialising reads behind writes.
  args.push('--sqlite-pragma', 'journal_mode=WAL');
  // The project's bounded history needs no raised limits; this only lifts the dev server's visibility rate cap.
  args.push('--dynamic-config-value', 'frontend.namespaceRPS.visibility=500');
  // The search attributes are all registered at start (above). Without this the dev server reads its
  // cluster metadata and namespace back from the store over and over: about ten reads per device
  // workflow in a push, each waiting its turn with the writes on the one SQLite database.
  args.push('--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=false');
  if (opts.metricsPort) args.push('--metrics-port', String(opts.metricsPort));
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort), '--ui-ip', '127.0.0.1');
  else args.push('--headless');
  const proc = new ManagedProcess({
    name: 'temporal',
    command: bin,
    args,
    logFile: opts.logFile,
    detached: opts.detached,
  });
  const address = `127.0.0.1:${opts.port}`;
  await waitReady(proc, `Temporal on ${address}`, async () => (await isPortOpen(opts.port)) && temporalReady(address));
  return proc;
}

export interface DatabaseOptions {
  toolsDir: string;
  port: number;
  dataDir: string;
  logFile?: string;
  detached?: boolean;
}

/** Starts FerretDB (SQLite backend), or a real mongod when one is on PATH. */
export async function startDatabase(opts: DatabaseOptions): Promise<ManagedProcess> {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const mongod = findOnPath('mongod');
  const proc = mongod
    ? new ManagedProcess({
        name: 'mongod',
        command: mongod,
        args: ['--bind_ip', '127.0.0.1', '--port', String(opts.port), '--dbpath', opts.dataDir, '--quiet'],
        logFile: opts.logFile,
        detached: opts.detached,
      })
    : new ManagedProcess({
        name: 'ferretdb',
        command: requireTool(toolPaths(opts.toolsDir).ferretdb, 'FerretDB'),
        args: ['--listen-addr', `127.0.0.1:${opts.port}`, '--sqlite-url', `file:${opts.dataDir}/`],
        logFile: opts.logFile,
        detached: opts.detached,
      });
  await waitReady(proc, `the database on port ${opts.port}`, () => pingMongo(`mongodb://127.0.0.1:${opts.port}/`));
  return proc;
}

/** True when the frontend answers and the project's search attributes are registered in the namespace. */
export async function temporalReady(address: string, namespace = 'default'): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 1000 });
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    return SEARCH_ATTRIBUTES.every((k) => customAttributes?.[k.name] !== undefined);
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

export async function pingMongo(url: string): Promise<boolean> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}

export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

async function waitReady(proc: ManagedProcess, what: string, check: () => Promise<boolean>): Promise<void> {
  try {
    await waitUntil(what, async () => {
      if (!proc.running) throw new Error(`${proc.opts.name} exited before it was ready`);
      return check();
    });
  } catch (err) {
    await proc.stop(2000);
    const log = proc.opts.logFile ? ` (see ${proc.opts.logFile})` : '';
    throw new Error(`${(err as Error).message}${log}`);
  }
}
