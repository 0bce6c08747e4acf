/**
 * The stack as users start it: the real launcher (`dist/scripts/launcher.js`)
 * on free ports and a fresh data folder, with its own Temporal dev server and
 * database unless the caller points it at external ones. The test reads the
 * launcher's pid file to kill a process outright and to see its replacement.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../../config/config';
import { ManagedProcess } from '../../../runtime/managed-process';
import { freePort } from '../../../runtime/net';
import { eventually } from '../../helpers/eventually';

interface PidEntry {
  name: string;
  pid: number;
  group: boolean;
  cmdline: string;
}

export interface Health {
  status: number;
  body: { status?: string; dependencies?: Record<string, { status: string; error?: string }>; error?: string };
}

export interface Answer<T> {
  status: number;
  body: T;
}

export interface LaunchedStack {
  apiUrl: string;
  mqttUrl: string;
  /** The Temporal frontend the services use. */
  temporalAddress: string;
  /** The database the services use. */
  mongodbUrl: string;
  pidOf(name: string): number | undefined;
  /** Names of the processes the launcher runs now (temporal, ferretdb or mongod, api, gateway, worker). */
  running(): string[];
  /** SIGKILLs the named process (its whole group when it leads one); returns its pid. */
  kill(name: string): number;
  health(): Promise<Health>;
  /**
   * Each service's own /healthz status (0 when it does not answer): the API's covers the database,
   * Temporal, the gateway and the worker's poller as Temporal sees it, which outlives a killed worker
   * for a while, so the worker and the gateway are asked themselves as well.
   */
  processHealth(): Promise<Record<'api' | 'gateway' | 'worker', number>>;
  /** The API's /healthz and every service's own answer 200. */
  healthy(): Promise<boolean>;
  api<T = unknown>(method: string, route: string, body?: unknown): Promise<Answer<T>>;
  /** Ctrl-C, then whatever a failed test left running is killed; the data folder is removed. */
  stop(): Promise<void>;
}

export interface LaunchOptions {
  name: string;
  /** Settings on top of free ports and a fresh data folder (e.g. TEMPORAL_ADDRESS for an external server). */
  env?: NodeJS.ProcessEnv;
}

export async function launchStack(opts: LaunchOptions): Promise<LaunchedStack> {
  const dataDir = fs.mkdtempSync(path.join(process.env.OTA_TEST_TMP ?? os.tmpdir(), `ota-${opts.name}-`));
  const env: NodeJS.ProcessEnv = { ...process.env, OTA_DATA_DIR: dataDir, OTA_API_TOKEN: '', OTA_LOG_LEVEL: 'warn' };
  // Without an explicit address the launcher starts its own Temporal and database, not the suite's.
  delete env.TEMPORAL_ADDRESS;
  delete env.MONGODB_URL;
  delete env.OTA_TASK_QUEUE;
  for (const name of [
    'OTA_API_PORT',
    'OTA_MQTT_PORT',
    'OTA_GATEWAY_HTTP_PORT',
    'OTA_WORKER_HTTP_PORT',
    'OTA_WORKER_SDK_METRICS_PORT',
    'OTA_TEMPORAL_PORT',
    'TEMPORAL_UI_PORT',
    'OTA_DB_PORT',
  ])
    env[name] = String(await freePort());
  Object.assign(env, opts.env);
  const apiUrl = `http://127.0.0.1:${env.OTA_API_PORT}`;
  const seen = new Map<number, PidEntry>();

  const pids = (): PidEntry[] => {
    const file = path.join(dataDir, 'launcher.pids.json');
    let entries: PidEntry[] = [];
    try {
      entries = JSON.parse(fs.readFileSync(file, 'utf8')) as PidEntry[];
    } catch {
      // Not written yet.
    }
    for (const e of entries) seen.set(e.pid, e);
    return entries;
  };
  const pidOf = (name: string) => pids().find((e) => e.name === name)?.pid;

  const logFile = path.join(dataDir, 'launcher-test.log');
  const launcher = new ManagedProcess({
    name: 'launcher',
    command: process.execPath,
    args: [path.join(PROJECT_ROOT, 'dist/scripts/launcher.js')],
    env,
    logFile,
  });
  const stop = async () => {
    await launcher.stop(20_000);
    // The services' output, kept for whoever reads a failed run (test-results/ is not tracked).
    const keep = path.join(PROJECT_ROOT, 'test-results', 'kill-matrix');
    fs.mkdirSync(keep, { recursive: true });
    if (fs.existsSync(logFile)) fs.copyFileSync(logFile, path.join(keep, `${opts.name}.log`));
    // Only what still runs the command the launcher started: a pid may have been reused since.
    for (const e of seen.values()) if (stillRuns(e)) signal(e, 'SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await eventually(
      `the ${opts.name} launcher to say the stack is up`,
      () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''),
      (log) => {
        if (log.includes('failed:') || !launcher.running) throw new Error(`the launcher did not start:\n${log}`);
        return log.includes('OTA service is up');
      },
      240_000,
      500,
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const api = async <T>(method: string, route: string, body?: unknown): Promise<Answer<T>> => {
    const res = await fetch(`${apiUrl}${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };

  const processHealth = async () => {
    const [apiStatus, gateway, worker] = await Promise.all(
      [apiUrl, `http://127.0.0.1:${env.OTA_GATEWAY_HTTP_PORT}`, `http://127.0.0.1:${env.OTA_WORKER_HTTP_PORT}`].map(
        (base) =>
          fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) }).then(
            (r) => r.status,
            () => 0,
          ),
      ),
    );
    return { api: apiStatus, gateway, worker };
  };

  return {
    apiUrl,
    mqttUrl: `mqtt://127.0.0.1:${env.OTA_MQTT_PORT}`,
    temporalAddress: env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.OTA_TEMPORAL_PORT}`,
    mongodbUrl: env.MONGODB_URL ?? `mongodb://127.0.0.1:${env.OTA_DB_PORT}/ota`,
    pidOf,
    running: () => pids().map((e) => e.name),
    kill(name) {
      const entry = pids().find((e) => e.name === name);
      if (!entry) throw new Error(`the launcher runs no ${name} (running: ${pids().map((e) => e.name)})`);
      signal(entry, 'SIGKILL');
      return entry.pid;
    },
    health: () =>
      api<Health['body']>('GET', '/healthz').catch((err: unknown) => ({ status: 0, body: { error: String(err) } })),
    processHealth,
    healthy: async () => Object.values(await processHealth()).every((status) => status === 200),
    api,
    stop,
  };
}

function stillRuns(entry: PidEntry): boolean {
  try {
    return fs.readFileSync(`/proc/${entry.pid}/cmdline`, 'utf8').replace(/\0$/, '') === entry.cmdline;
  } catch {
    return false;
  }
}

function signal(entry: PidEntry, sig: NodeJS.Signals): void {
  try {
    process.kill(entry.group ? -entry.pid : entry.pid, sig);
  } catch {
    // Already gone.
  }
}
