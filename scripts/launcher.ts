/**
 * The start command's second half (after scripts/install.sh): brings up the
 * embedded stack in order, each step checked for readiness — Temporal dev
 * server with its Web UI and our search attributes, the database, then the
 * API, gateway and worker — prints the URLs, and on Ctrl-C stops everything it
 * started, services first, in reverse order. Meanwhile it supervises all five
 * processes: whichever exits on its own is started again, with backoff, on
 * the same data.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { apiScheme } from '../api/listener';
import { loadConfig, PROJECT_ROOT, type Config } from '../config/config';
import { startDatabase, startTemporalDevServer } from '../runtime/infra';
import { ManagedProcess } from '../runtime/managed-process';
import { Supervisor } from '../runtime/supervisor';
import { isPortOpen, waitUntil } from '../runtime/net';
import { killStale, writePids } from './pidfile';

const SERVICES = ['api', 'gateway', 'worker'] as const;
type Service = (typeof SERVICES)[number];
const ENTRY: Record<Service, string> = {
  api: 'dist/api/server.js',
  gateway: 'dist/gateway/server.js',
  worker: 'dist/worker/worker.js',
};

async function main(): Promise<void> {
  // Services inherit it: readable log lines for a person at a terminal, JSON lines otherwise.
  process.env.OTA_LOG_FORMAT ??= process.stdout.isTTY ? 'pretty' : 'json';
  const config = loadConfig();
  const logs = path.join(config.dataDir, 'logs');
  fs.mkdirSync(logs, { recursive: true });
  // What was just killed may hold its ports a moment longer than its threads live.
  const portGrace = (await killStale(config.dataDir)) ? 10_000 : 0;

  const infra: Supervisor[] = [];
  const services: Supervisor[] = [];
  const recordPids = () =>
    writePids(
      config.dataDir,
      [...infra, ...services].flatMap((s) => (s.current ? [s.current] : [])),
    );
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    await Promise.all(services.map((s) => s.stop()));
    for (const s of [...infra].reverse()) await s.stop();
    writePids(config.dataDir, []);
    say('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  const supervise = (name: string, start: () => Promise<ManagedProcess>) =>
    new Supervisor({ name, start, say, onStarted: recordPids });

  try {
    if (!config.temporalExternal) {
      const port = Number(config.temporalAddress.split(':').pop());
      await assertFree(port, 'TEMPORAL_ADDRESS', portGrace);
      await assertFree(config.temporalUiPort, 'TEMPORAL_UI_PORT', portGrace);
      say(`starting Temporal dev server on ${config.temporalAddress} (logs: ${path.join(logs, 'temporal.log')})`);
      // Every (re)start opens the same SQLite file: a restarted Temporal has every workflow it had.
      const temporal = supervise('temporal', () =>
        startTemporalDevServer({
          toolsDir: config.toolsDir,
          port,
          uiPort: config.temporalUiPort,
          dbFile: path.join(config.dataDir, 'temporal.sqlite'),
          logFile: path.join(logs, 'temporal.log'),
          detached: true,
        }),
      );
      infra.push(temporal);
      await temporal.start();
    }
    if (!config.mongodbExternal) {
      await assertFree(config.embeddedDbPort, 'OTA_DB_PORT', portGrace);
      say(`starting the database on port ${config.embeddedDbPort} (logs: ${path.join(logs, 'database.log')})`);
      const database = supervise('database', () =>
        startDatabase({
          toolsDir: config.toolsDir,
          port: config.embeddedDbPort,
          dataDir: path.join(config.dataDir, 'db'),
          logFile: path.join(logs, 'database.log'),
          detached: true,
        }),
      );
      infra.push(database);
      await database.start();
    }

    for (const name of SERVICES) {
      // A crashed service comes back; its durable state is in Temporal and the database.
      const service = supervise(name, async () => spawnService(name, config));
      services.push(service);
      await service.start();
    }
    await waitUntil('the API to report every dependency up', () => healthy(config), 120_000, 500);
    printUrls(config);
  } catch (err) {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll(1);
  }
}

function spawnService(name: Service, config: Config): ManagedProcess {
  return new ManagedProcess({
    name,
    command: process.execPath,
    args: [path.join(PROJECT_ROOT, ENTRY[name])],
    cwd: PROJECT_ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: config.temporalAddress, MONGODB_URL: config.mongodbUrl },
  });
}

async function healthy(config: Config): Promise<boolean> {
  const scheme = apiScheme(config.apiHttp);
  const url = `${scheme}://127.0.0.1:${config.apiPort}/healthz`;
  // The launcher asks the API it started itself, on loopback, sending nothing secret: the
  // certificate names the public host, not 127.0.0.1, so it is not verified for this probe.
  const get = scheme === 'https' ? https.get : http.get;
  return new Promise((resolve) => {
    const req = get(url, { rejectUnauthorized: false, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

async function assertFree(port: number, setting: string, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while ((await isPortOpen(port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  if (await isPortOpen(port)) {
    throw new Error(`port ${port} is already in use: stop what holds it, or set ${setting} to use another`);
  }
}

function printUrls(config: Config): void {
  const ui = config.temporalExternal
    ? '(external Temporal: its own Web UI)'
    : `http://127.0.0.1:${config.temporalUiPort}`;
  say('');
  say('OTA service is up:');
  say(
    `  API          ${apiScheme(config.apiHttp)}://${config.apiHost}:${config.apiPort}   (health: /healthz, OpenAPI: /openapi.json)`,
  );
  say(`  Temporal UI  ${ui}`);
  say(`  MQTT         mqtt://${config.mqttHost === '0.0.0.0' ? '127.0.0.1' : config.mqttHost}:${config.mqttPort}`);
  say(`  data         ${config.dataDir}`);
  say('Press Ctrl-C to stop.');
}

function say(line: string): void {
  process.stdout.write(`[launcher] ${line}\n`);
}

void main();
