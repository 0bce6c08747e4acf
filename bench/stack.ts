/**
 * The embedded stack for benchmarks: Temporal dev server, FerretDB, and the
 * api, gateway and worker as their own processes (so each one's peak RSS can
 * be read), all on free ports under a temporary folder.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../config/config';
import { startDatabase, startTemporalDevServer } from '../runtime/infra';
import { ManagedProcess } from '../runtime/managed-process';
import { freePort, waitUntil } from '../runtime/net';

export interface BenchStack {
  dir: string;
  temporalAddress: string;
  mongodbUrl: string;
  apiUrl: string;
  mqttUrl: string;
  procs: Record<'api' | 'gateway' | 'worker', ManagedProcess>;
  /** The database process (its CPU is read by the read figures). */
  databasePid: number | undefined;
  /** Every process of the stack by name, for CPU accounting. */
  pids(): Record<'temporal' | 'database' | 'api' | 'gateway' | 'worker', number | undefined>;
  /** Peak resident set (VmHWM) of a process, in MB. */
  peakRssMb(name: 'api' | 'gateway' | 'worker'): number;
  stop(): Promise<void>;
}

export async function startBenchStack(env: Record<string, string> = {}): Promise<BenchStack> {
  const config = loadConfig({});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-bench-'));
  const [temporalPort, dbPort, apiPort, mqttPort, gwPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const temporal = await startTemporalDevServer({
    toolsDir: config.toolsDir,
    port: temporalPort,
    dbFile: path.join(dir, 'temporal.sqlite'),
    logFile: path.join(dir, 'temporal.log'),
    // Where the server's own store goes per device: see docs/capacity.md, "The embedded Temporal".
    ...(process.env.OTA_BENCH_TEMPORAL_METRICS_PORT && {
      metricsPort: Number(process.env.OTA_BENCH_TEMPORAL_METRICS_PORT),
    }),
  });
  const database = await startDatabase({
    toolsDir: config.toolsDir,
    port: dbPort,
    dataDir: path.join(dir, 'db'),
    logFile: path.join(dir, 'database.log'),
  });
  const temporalAddress = `127.0.0.1:${temporalPort}`;
  const mongodbUrl = `mongodb://127.0.0.1:${dbPort}/ota`;
  const serviceEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress,
    MONGODB_URL: mongodbUrl,
    OTA_API_PORT: String(apiPort),
    OTA_MQTT_PORT: String(mqttPort),
    OTA_MQTT_HOST: '127.0.0.1',
    OTA_GATEWAY_HTTP_PORT: String(gwPort),
    // Free ports, not the defaults: a launcher's stack may be running beside the benchmark's.
    OTA_WORKER_HTTP_PORT: '0',
    OTA_WORKER_SDK_METRICS_PORT: '0',
    OTA_LOG_LEVEL: 'warn',
    ...env,
  };
  const start = (name: 'api' | 'gateway' | 'worker', entry: string) =>
    new ManagedProcess({
      name,
      command: process.execPath,
      // OTA_BENCH_PROFILE_DIR: each service writes V8 CPU profiles there when it stops.
      args: [...profileArgs(name), path.join(PROJECT_ROOT, entry)],
      env: serviceEnv,
      logFile: path.join(dir, `${name}.log`),
    });
  const procs = {
    gateway: start('gateway', 'dist/gateway/server.js'),
    api: start('api', 'dist/api/server.js'),
    worker: start('worker', 'dist/worker/worker.js'),
  };
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await waitUntil(
    'the API to report every dependency up',
    async () => (await fetch(`${apiUrl}/healthz`).catch(() => undefined))?.status === 200,
    120_000,
    500,
  );
  return {
    dir,
    temporalAddress,
    mongodbUrl,
    apiUrl,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    procs,
    databasePid: database.pid,
    pids: () => ({
      temporal: temporal.pid,
      database: database.pid,
      api: procs.api.pid,
      gateway: procs.gateway.pid,
      worker: procs.worker.pid,
    }),
    peakRssMb(name) {
      const status = fs.readFileSync(`/proc/${procs[name].pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return Math.round(kb / 1024);
    },
    async stop() {
      await Promise.all(Object.values(procs).map((p) => p.stop(5000)));
      await database.stop();
      await temporal.stop();
    },
  };
}

function profileArgs(name: string): string[] {
  const dir = process.env.OTA_BENCH_PROFILE_DIR;
  // A folder per service, files named by Node: a process's worker threads (the worker's workflow
  // threads) write profiles of their own.
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, name)}`] : [];
}

export async function api<T>(
  base: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`${base}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (res.status >= 400) throw new Error(`${method} ${route} → ${res.status}: ${text.slice(0, 500)}`);
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, ms };
}
