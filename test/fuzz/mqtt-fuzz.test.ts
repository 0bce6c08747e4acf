/**
 * The MQTT fuzzer against the real gateway process (dist/gateway/server.js)
 * with the real database and Temporal: at least OTA_FUZZ_PACKETS hostile
 * packets (default 12,000 here; `npm run fuzz:mqtt` sends 200,000) from many
 * connections. Meanwhile a legitimate device logs in, reports its version and
 * receives a command, again and again. Afterwards the gateway is up, its peak
 * RSS stayed under the bound, and the registry holds no change the fuzzer had
 * no right to make.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Db } from 'mongodb';
import type { MqttClient } from 'mqtt';
import { PROJECT_ROOT } from '../../config/config';
import { upgradeCommandTopic } from '../../orchestration/device-events';
import { ManagedProcess } from '../../runtime/managed-process';
import {
  connectDevice,
  connectRaw,
  inbox,
  newDevice,
  registerDevices,
  until,
  type TestDevice,
} from '../gateway/support';
import { temporalAddress, testDb, unique } from '../helpers/stack';
import { runFuzzer, type FuzzStats } from './mqtt-fuzzer';
import { freePort } from '../../runtime/net';

const PACKETS = Number(process.env.OTA_FUZZ_PACKETS ?? 10_000);
const SEED = Number(process.env.OTA_FUZZ_SEED ?? 20261202);
const CONCURRENCY = Number(process.env.OTA_FUZZ_CONNECTIONS ?? 16);
/** The gateway starts near 80 MB; without the limits three connections took it to 379 MB. */
const RSS_BOUND_MB = 250;
const SERVICE = { username: 'ota-service', password: 'fuzz-service-password' };
/** The fields a device's own MQTT session may change in its registry document. */
const PRESENCE_FIELDS = [
  'online',
  'gatewayId',
  'lastSeenAt',
  'updatedAt',
  'firmwareVersion',
  'versionReportedAt',
  'activatedAt',
];

function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return Math.round(kb / 1024);
}

async function snapshot(db: Db) {
  const devices = await db.collection('devices').find({}).toArray();
  const products = await db.collection('products').find({}).toArray();
  const collections: Record<string, number> = {};
  for (const c of await db.listCollections().toArray())
    collections[c.name] = await db.collection(c.name).countDocuments();
  return { devices: new Map(devices.map((d) => [String(d._id), d])), products, collections };
}

const withoutFields = (doc: object, fields: string[]) =>
  Object.fromEntries(Object.entries(doc).filter(([k]) => !fields.includes(k)));

// The long run (npm run fuzz:mqtt) sends 20 times as much; a shared CI machine may be slow.
jest.setTimeout(Number(process.env.OTA_FUZZ_TIMEOUT_MS ?? 300_000));

describe('MQTT fuzzer against the gateway process', () => {
  let mongo: Awaited<ReturnType<typeof testDb>>;
  let gateway: ManagedProcess;
  let mqttPort: number;
  let httpUrl: string;
  let dataDir: string;

  const own = Array.from({ length: 20 }, () => newDevice('fuzzpk'));
  const victims = Array.from({ length: 5 }, () => newDevice('pk1'));
  const legit = newDevice('pk1');

  beforeAll(async () => {
    mongo = await testDb('mqtt-fuzz');
    await registerDevices(mongo.db, [...own, ...victims, legit], '1.0.0');
    [mqttPort] = [await freePort()];
    const httpPort = await freePort();
    httpUrl = `http://127.0.0.1:${httpPort}`;
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-fuzz-'));
    gateway = new ManagedProcess({
      name: 'gateway',
      command: process.execPath,
      args: [path.join(PROJECT_ROOT, 'dist/gateway/server.js')],
      env: {
        ...process.env,
        MONGODB_URL: mongo.url,
        TEMPORAL_ADDRESS: temporalAddress(),
        OTA_TASK_QUEUE: unique('fuzz'),
        OTA_DATA_DIR: dataDir,
        OTA_MQTT_HOST: '127.0.0.1',
        OTA_MQTT_PORT: String(mqttPort),
        OTA_GATEWAY_HTTP_PORT: String(httpPort),
        OTA_GATEWAY_ID: 'gateway-under-fuzz',
        OTA_SERVICE_MQTT_USERNAME: SERVICE.username,
        OTA_SERVICE_MQTT_PASSWORD: SERVICE.password,
        // Idle fuzzer connections are cut after this; long enough for a slow shared CI machine.
        OTA_MQTT_CONNECT_TIMEOUT_MS: '5000',
        OTA_LOG_LEVEL: process.env.OTA_FUZZ_LOG_LEVEL ?? 'error',
      },
      logFile:
        process.env.OTA_FUZZ_GATEWAY_LOG ??
        path.join(process.env.OTA_TEST_TMP ?? os.tmpdir(), `fuzz-gateway-${process.pid}.log`),
    });
    await until(
      () =>
        fetch(`${httpUrl}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      15_000,
      'the gateway to answer',
    );
  });
  afterAll(async () => {
    await gateway?.stop(5000);
    await mongo?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const legitConnectMs: number[] = [];
  let legitRetries = 0;

  /** A device that plays by the rules: logs in, reports, gets a command from the service. */
  async function legitimateRound(round: number, device: TestDevice): Promise<void> {
    const url = `mqtt://127.0.0.1:${mqttPort}`;
    const t0 = Date.now();
    // As the SDKs do, a device whose connection dropped during login tries again (counted in the figures).
    let client: MqttClient | undefined;
    for (let attempt = 1; !client; attempt += 1) {
      try {
        client = await connectDevice(url, device, { timestamp: String(1716900000000 + round), connectTimeout: 30_000 });
      } catch (err) {
        if (attempt === 3) throw err;
        legitRetries += 1;
      }
    }
    legitConnectMs.push(Date.now() - t0);
    const box = inbox(client);
    const base = `/sys/${device.productKey}/${device.deviceKey}/ota/device`;
    const id = String(1000 + round);
    await client.publishAsync(
      `${base}/inform`,
      JSON.stringify({ id, method: 'ota.device.inform', params: { version: `legit-${round}` } }),
      { qos: 1 },
    );
    await until(() => box.some((m) => m.topic === `${base}/inform_reply`), 10_000, 'the inform reply');
    const service = await connectRaw(url, { clientId: `svc-${round}`, ...SERVICE });
    const command = { id: `cmd-${round}`, method: 'ota.device.upgrade', params: { version: `legit-${round + 1}` } };
    await service.publishAsync(upgradeCommandTopic(device), JSON.stringify(command), { qos: 1 });
    await until(() => box.some((m) => m.topic === `${base}/upgrade`), 10_000, 'the command');
    await service.endAsync();
    await client.endAsync();
    // Only answers to its own requests and the service's command: nothing any fuzzer connection sent.
    expect(box.map((m) => ({ topic: m.topic, body: m.body }))).toEqual([
      { topic: `${base}/inform_reply`, body: { id, code: 200, data: {}, message: '' } },
      { topic: `${base}/upgrade`, body: command },
    ]);
  }

  it('stays up, under its RSS bound, serves a legitimate device meanwhile and changes nothing it should not', async () => {
    const before = await snapshot(mongo.db);
    const pid = gateway.pid as number;
    const startRss = rssMb(pid, 'VmRSS');
    let peakSampled = startRss;
    const sampler = setInterval(() => {
      if (gateway.running) peakSampled = Math.max(peakSampled, rssMb(pid, 'VmRSS'));
    }, 200);

    let rounds = 0;
    let legitDone = false;
    const fuzzing = runFuzzer(
      { port: mqttPort, packets: PACKETS, concurrency: CONCURRENCY, seed: SEED, own, foreign: [...victims, legit] },
      () => legitDone,
    );
    let stats: FuzzStats | undefined;
    void fuzzing.then((s) => (stats = s));
    try {
      // At least three rounds, all while the fuzzer runs (it waits for them before it stops).
      for (; rounds < 3; rounds += 1) await legitimateRound(rounds, legit);
      expect(stats).toBeUndefined();
    } finally {
      legitDone = true;
      stats = await fuzzing;
      clearInterval(sampler);
    }

    expect(gateway.running).toBe(true);
    const health = await fetch(`${httpUrl}/healthz`);
    expect(health.status).toBe(200);
    await legitimateRound(rounds, legit);
    const peakRss = Math.max(peakSampled, rssMb(pid, 'VmHWM'));
    const metrics = (await (await fetch(`${httpUrl}/metrics.json`)).json()) as Record<string, unknown>;

    // The registry: victims untouched, the fuzzer's own devices only in their presence fields, nothing added.
    await until(
      async () =>
        ((await (await fetch(`${httpUrl}/metrics.json`)).json()) as { connections: { open: number } }).connections
          .open === 0,
      15_000,
      'connections to close',
    );
    // The last round's version report is stored behind the registry's merged writes.
    await until(
      async () =>
        (await mongo.db.collection('devices').findOne({ deviceKey: legit.deviceKey }))?.firmwareVersion ===
        `legit-${rounds}`,
      15_000,
      "the legitimate device's last version to be stored",
    );
    const after = await snapshot(mongo.db);
    expect(after.collections).toEqual(before.collections);
    expect(after.products).toEqual(before.products);
    expect([...after.devices.keys()].sort()).toEqual([...before.devices.keys()].sort());
    const ownIds = new Set(own.map((d) => `${d.productKey}/${d.deviceKey}`));
    for (const [id, doc] of before.devices) {
      const now = after.devices.get(id) as object;
      const key = `${String(doc.productKey)}/${String(doc.deviceKey)}`;
      const mayChange = ownIds.has(key) || key === `${legit.productKey}/${legit.deviceKey}` ? PRESENCE_FIELDS : [];
      expect({ key, doc: withoutFields(now, mayChange) }).toEqual({ key, doc: withoutFields(doc, mayChange) });
    }
    const legitDoc = after.devices.get(
      [...before.devices.keys()].find((k) => before.devices.get(k)?.deviceKey === legit.deviceKey) as string,
    );
    expect(legitDoc?.firmwareVersion).toBe(`legit-${rounds}`);

    const figures = {
      packets: stats.packets,
      connections: stats.connections,
      crashes: 0,
      startRssMb: startRss,
      peakRssMb: peakRss,
      legitConnectMs,
      legitRetries,
      rssBoundMb: RSS_BOUND_MB,
      closedByGateway: stats.closedByGateway,
      scenarios: stats.scenarios,
      connacks: stats.connacks,
      gateway: { dropped: metrics.dropped, refused: (metrics.connections as { refused: unknown }).refused },
    };
    process.stdout.write(`[mqtt-fuzz] ${JSON.stringify(figures)}\n`);
    expect(stats.packets).toBeGreaterThanOrEqual(PACKETS);
    expect(peakRss).toBeLessThan(RSS_BOUND_MB);
  });
});
