/**
 * Gateway benchmark (prints figures; not a timed test). Starts FerretDB, runs
 * the gateway in its own child process with a counting DeviceEvents (so the
 * peak RSS is the gateway's, not the simulator's), registers N devices
 * directly in the registry, connects N simulated devices and has each report
 * its version.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/gateway.js [--devices 10000] [--concurrency 200]
 *
 * Each process holds one socket per device: N must stay below `ulimit -n`
 * (raise it with `ulimit -n 65535` in the shell first if needed).
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config';
import { devicePresenceStore, type DevicePresenceStore } from '../db/device-presence';
import { connectMongo } from '../db/mongo';
import { newDeviceDoc, type DeviceDoc } from '../db/devices';
import type { DeviceEvents } from '../orchestration/device-events';
import { startDatabase } from '../runtime/infra';
import { silentLogger } from '../runtime/log';
import { freePort } from '../runtime/net';
import { startGateway } from '../gateway/gateway';
import { Limiter } from '../simulator/clock';
import { SimulatedDevice } from '../simulator/device';

type ToChild = { type: 'stats' };
type FromChild =
  | { type: 'ready'; mqttPort: number }
  | {
      type: 'stats';
      maxRssMb: number;
      rssMb: number;
      versionReports: number;
      connected: number;
      registryMsPerCall: Record<string, { calls: number; avgMs: number }>;
    };

/** Counts calls; the orchestration's cost is not what this benchmark measures. */
class CountingEvents implements DeviceEvents {
  connections = 0;
  versionReports = 0;
  async connected(): Promise<void> {
    this.connections += 1;
  }
  async disconnected(): Promise<void> {}
  async versionReported(): Promise<void> {
    this.versionReports += 1;
  }
  async progressReported(): Promise<void> {}
  async upgradeReplied(): Promise<void> {}
  async firmwareRequested(): Promise<[]> {
    return [];
  }
}

/** Wraps the registry adapter to report how long its calls take (the database is usually the limit). */
function timed(
  store: DevicePresenceStore,
  timings: Record<string, { calls: number; totalMs: number }>,
): DevicePresenceStore {
  const wrap =
    <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const t0 = performance.now();
      try {
        return await fn(...args);
      } finally {
        const t = (timings[name] ??= { calls: 0, totalMs: 0 });
        t.calls += 1;
        t.totalMs += performance.now() - t0;
      }
    };
  return {
    findForLogin: wrap('findForLogin', store.findForLogin),
    update: wrap('update', store.update),
  };
}

async function child(): Promise<void> {
  const mongo = await connectMongo(process.env.BENCH_MONGODB_URL ?? '');
  const events = new CountingEvents();
  const timings: Record<string, { calls: number; totalMs: number }> = {};
  const gateway = await startGateway({
    config: {
      mqttPort: 0,
      mqttHost: '127.0.0.1',
      gatewayHttpPort: 0,
      serviceMqttUsername: 'bench-service',
      serviceMqttPassword: 'bench-password',
    },
    log: silentLogger,
    db: mongo.db,
    events,
    presenceStore: timed(devicePresenceStore(mongo.db), timings),
  });
  const send = (m: FromChild) => process.send?.(m);
  process.on('message', (m: ToChild) => {
    if (m.type !== 'stats') return;
    send({
      type: 'stats',
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      rssMb: process.memoryUsage().rss / 1024 / 1024,
      versionReports: events.versionReports,
      connected: events.connections,
      registryMsPerCall: Object.fromEntries(
        Object.entries(timings).map(([k, v]) => [
          k,
          { calls: v.calls, avgMs: Math.round((v.totalMs / v.calls) * 10) / 10 },
        ]),
      ),
    });
  });
  process.on('disconnect', () => void gateway.close().then(() => mongo.close().then(() => process.exit(0))));
  send({ type: 'ready', mqttPort: gateway.mqttPort });
}

function ask(gw: ChildProcess): Promise<Extract<FromChild, { type: 'stats' }>> {
  return new Promise((resolve) => {
    const on = (m: FromChild) => {
      if (m.type !== 'stats') return;
      gw.off('message', on);
      resolve(m);
    };
    gw.on('message', on);
    gw.send({ type: 'stats' } satisfies ToChild);
  });
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function parent(): Promise<void> {
  const { values } = parseArgs({
    options: { devices: { type: 'string', default: '10000' }, concurrency: { type: 'string', default: '200' } },
  });
  const n = Number(values.devices);
  const config = loadConfig({ ...process.env, MONGODB_URL: '' });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-bench-'));
  const dbPort = await freePort();
  const db = await startDatabase({
    toolsDir: config.toolsDir,
    port: dbPort,
    dataDir: path.join(tmp, 'db'),
    logFile: path.join(tmp, 'db.log'),
  });
  const mongoUrl = `mongodb://127.0.0.1:${dbPort}/bench`;
  const mongo = await connectMongo(mongoUrl);
  let gw: ChildProcess | undefined;
  const devices: SimulatedDevice[] = [];
  try {
    const t0 = Date.now();
    const now = new Date();
    for (let i = 0; i < n; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, n - i) }, (_, j) =>
        newDeviceDoc({ productKey: 'benchpk', deviceKey: `d${i + j}`, deviceSecret: `secret-d${i + j}` }, now),
      );
      await mongo.db.collection<DeviceDoc>('devices').insertMany(batch);
    }
    await mongo.db.collection('devices').createIndex({ productKey: 1, deviceKey: 1 }, { unique: true });
    console.log(`registered ${n} devices in ${Date.now() - t0} ms`);

    gw = fork(__filename, ['--child'], { env: { ...process.env, BENCH_MONGODB_URL: mongoUrl } });
    const child = gw;
    const ready = await new Promise<number>((resolve) =>
      child.on('message', (m: FromChild) => m.type === 'ready' && resolve(m.mqttPort)),
    );
    const url = `mqtt://127.0.0.1:${ready}`;
    const limiter = new Limiter(Number(values.concurrency));
    const opts = { url, keepaliveSec: 60, requestTimeoutMs: 120_000, connectTimeoutMs: 60_000 };
    for (let i = 0; i < n; i += 1) {
      devices.push(
        new SimulatedDevice(
          { productKey: 'benchpk', deviceKey: `d${i}`, deviceSecret: `secret-d${i}`, version: '1.0.0' },
          opts,
          () => undefined,
        ),
      );
    }

    const c0 = Date.now();
    const ok = (await Promise.all(devices.map((d) => limiter.run(() => d.connect())))).filter(Boolean).length;
    const connectMs = Date.now() - c0;
    console.log(`${ok} of ${n} devices logged in in ${connectMs} ms; each now informs its version`);

    // Like the SDKs, every device informs right after connecting (its online write may still be queued).
    const v0 = Date.now();
    const replies = await Promise.all(devices.map((d) => d.inform('1.0.1')));
    const repliedMs = Date.now() - v0;
    console.log(`all informs answered in ${repliedMs} ms; waiting until every version is stored and forwarded`);
    await waitUntil(async () => (await ask(child)).versionReports >= n, 1_800_000, 'version reports');
    const reportedMs = Date.now() - v0;
    // The registry's writes trail the orchestration's events (they no longer wait for each other).
    const storedCount = () => mongo.db.collection('devices').countDocuments({ firmwareVersion: '1.0.1', online: true });
    await waitUntil(async () => (await storedCount()) >= n, 1_800_000, 'registry writes');
    const storedMs = Date.now() - v0;
    const stats = await ask(child);

    const rate = (count: number, ms: number) => `${Math.round((count * 1000) / ms)}/s`;
    console.log(
      JSON.stringify(
        {
          devices: n,
          accepted: ok,
          connect: { ms: connectMs, rate: rate(ok, connectMs), connectedEvents: stats.connected },
          versionReports: {
            replies200: replies.filter((r) => r?.code === 200).length,
            allRepliedMs: repliedMs,
            replyRate: rate(n, repliedMs),
            allReachedOrchestrationMs: reportedMs,
            reachedOrchestrationRate: rate(n, reportedMs),
            allStoredOnlineWithVersionMs: storedMs,
            storedRate: rate(n, storedMs),
          },
          registryMsPerCall: stats.registryMsPerCall,
          gatewayMemory: { peakRssMb: Math.round(stats.maxRssMb), rssNowMb: Math.round(stats.rssMb) },
          machine: { cpus: os.cpus().length, node: process.version },
        },
        null,
        2,
      ),
    );
  } finally {
    await Promise.all(devices.map((d) => d.disconnect().catch(() => undefined)));
    gw?.disconnect();
    await new Promise((r) => setTimeout(r, 500));
    gw?.kill();
    await mongo.close();
    await db.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv.includes('--child')) {
  child().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  parent().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
