/**
 * The launcher as users run it (`node dist/scripts/launcher.js`), with its own
 * Temporal dev server, database and services on free ports and a fresh data
 * folder: each process is killed outright in turn and must come back on the
 * same data, Ctrl-C must leave no process behind, and a second start must
 * find what the first one stored.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MongoClient } from 'mongodb';
import { PROJECT_ROOT } from '../../config/config';
import { ManagedProcess } from '../../runtime/managed-process';
import { freePort } from '../../runtime/net';
import { eventually } from '../helpers/eventually';

jest.setTimeout(600_000);

interface PidEntry {
  name: string;
  pid: number;
}
interface Health {
  status: string;
  dependencies: Record<string, { status: string; error?: string }>;
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-launcher-'));
let starts = 0;
let apiPort = 0;
let env: NodeJS.ProcessEnv = {};
let launcher: ManagedProcess | undefined;
const seenPids = new Set<number>();

const pids = (): PidEntry[] => {
  const file = path.join(dataDir, 'launcher.pids.json');
  const entries = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as PidEntry[]) : [];
  for (const e of entries) seenPids.add(e.pid);
  return entries;
};
const pidOf = (name: string): number | undefined => pids().find((e) => e.name === name)?.pid;
const alive = (pid: number): boolean => fs.existsSync(`/proc/${pid}`) && !isZombie(pid);
const isZombie = (pid: number): boolean => {
  try {
    return /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

async function api<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://127.0.0.1:${apiPort}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

const health = () =>
  api<Health>('GET', '/healthz').catch((err: unknown) => ({ status: 0, body: { error: String(err) } }));
const waitHealthy = (what: string) => eventually(what, health, (h) => h.status === 200, 180_000, 500);

async function startLauncher(): Promise<void> {
  // One log per start: the "is up" line of an earlier start must not count.
  const logFile = path.join(dataDir, `launcher-test-${++starts}.log`);
  launcher = new ManagedProcess({
    name: 'launcher',
    command: process.execPath,
    args: [path.join(PROJECT_ROOT, 'dist/scripts/launcher.js')],
    env,
    logFile,
  });
  await eventually(
    'the launcher to say the stack is up',
    () => fs.readFileSync(logFile, 'utf8'),
    (log) => log.includes('OTA service is up'),
    180_000,
    500,
  );
}

/** Kills a process of the stack outright and waits until the launcher has a new one of that name, answering. */
async function killAndWaitBack(name: string, watch?: (h: Health) => void): Promise<void> {
  const before = pidOf(name);
  expect(before).toBeDefined();
  process.kill(before as number, 'SIGKILL');
  await eventually(
    `${name} to be restarted`,
    async () => {
      const h = await health();
      if (h.status !== 200 && 'dependencies' in h.body) watch?.(h.body);
      return { pid: pidOf(name), status: h.status };
    },
    (s) => s.pid !== undefined && s.pid !== before && s.status === 200,
    180_000,
    200,
  );
}

async function markVerified(firmwareId: string): Promise<void> {
  const client = new MongoClient(`mongodb://127.0.0.1:${env.OTA_DB_PORT}/`);
  try {
    await client
      .db('ota')
      .collection('firmwares')
      .updateOne({ firmwareId }, { $set: { verified: true } });
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  apiPort = await freePort();
  env = { ...process.env, OTA_DATA_DIR: dataDir, OTA_API_PORT: String(apiPort), OTA_API_TOKEN: '' };
  // Without these the launcher would use the suite's shared servers instead of starting its own.
  delete env.TEMPORAL_ADDRESS;
  delete env.MONGODB_URL;
  for (const name of ['OTA_MQTT_PORT', 'OTA_GATEWAY_HTTP_PORT', 'OTA_TEMPORAL_PORT', 'TEMPORAL_UI_PORT', 'OTA_DB_PORT'])
    env[name] = String(await freePort());
  env.OTA_LOG_LEVEL = 'warn';
  await startLauncher();
});

afterAll(async () => {
  await launcher?.stop(15_000);
  // Whatever a failed assertion left running.
  for (const pid of seenPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('the launcher supervises the whole embedded stack', () => {
  let taskId = '';

  it('starts everything and stores data', async () => {
    expect(pids().map((e) => e.name)).toEqual(
      expect.arrayContaining(['temporal', 'ferretdb', 'api', 'gateway', 'worker']),
    );
    const devices = await api('POST', '/v1/devices:batch', { devices: [{ productKey: 'pk-l', deviceKey: 'd-1' }] });
    expect(devices.status).toBe(200);
  });

  it('brings the database back after a kill -9; meanwhile /healthz names it', async () => {
    const down = new Set<string>();
    await killAndWaitBack('ferretdb', (h) => {
      for (const [dep, s] of Object.entries(h.dependencies)) if (s.status === 'down') down.add(dep);
    });
    expect([...down]).toContain('database');
    const device = await api<{ deviceKey: string }>('GET', '/v1/devices/pk-l/d-1');
    expect(device).toMatchObject({ status: 200, body: { deviceKey: 'd-1' } });
  });

  it('brings Temporal back after a kill -9, with its workflows, and the worker runs new ones', async () => {
    const fw = await api<{ firmwareId: string }>('POST', '/v1/firmwares', {
      productKey: 'pk-l',
      version: '2.0.0',
      fileUrl: 'https://files.example.com/fw.bin',
      fileSize: 1024,
      signMethod: 'md5',
      sign: '9e107d9d372bb6826bd81d3542a419d6',
    });
    expect(fw.status).toBe(201);
    // Verification needs a device that upgrades; this test is about processes, so mark it verified.
    await markVerified(fw.body.firmwareId);
    const task = {
      firmwareId: fw.body.firmwareId,
      sourceVersions: ['1.0.0'],
      strategy: 'snapshot',
      scope: 'target',
      filter: { deviceKeys: ['d-1'] },
      method: 'push',
    };
    const before = await api<{ taskId: string }>('POST', '/v1/upgrade-tasks', task);
    expect(before).toMatchObject({ status: 201 });
    taskId = before.body.taskId;
    await eventually(
      'the first task to complete',
      () => api<{ status: string }>('GET', `/v1/upgrade-tasks/${taskId}`),
      (r) => r.body.status === 'completed',
      120_000,
      500,
    );

    await killAndWaitBack('temporal');
    const after = await api<{ taskId: string }>('POST', '/v1/upgrade-tasks', task);
    expect(after.status).toBe(201);
    await eventually(
      'a task created after the restart to complete',
      () => api<{ status: string }>('GET', `/v1/upgrade-tasks/${after.body.taskId}`),
      (r) => r.body.status === 'completed',
      120_000,
      500,
    );
  });

  it('restarts a crashed worker and API', async () => {
    await killAndWaitBack('worker');
    await killAndWaitBack('api');
  });

  it('leaves no process behind on Ctrl-C', async () => {
    const running = pids();
    expect(running.length).toBe(5);
    launcher?.child.kill('SIGINT');
    await launcher?.whenExited();
    await eventually(
      'every process of the stack to end',
      () => running.filter((e) => alive(e.pid)),
      (l) => l.length === 0,
      30_000,
    );
  });

  it('resumes with the same data on a second start', async () => {
    await startLauncher();
    await waitHealthy('the second start to be healthy');
    expect((await api('GET', '/v1/devices/pk-l/d-1')).status).toBe(200);
    expect(await api('GET', `/v1/upgrade-tasks/${taskId}`)).toMatchObject({
      status: 200,
      body: { status: 'completed' },
    });
  });

  it('stops what a launcher killed outright left running when it starts again', async () => {
    const left = pids();
    expect(left.length).toBe(5);
    launcher?.child.kill('SIGKILL');
    await launcher?.whenExited();
    // Nothing stopped them: the old stack still runs.
    expect(left.filter((e) => alive(e.pid)).length).toBe(5);
    await startLauncher();
    await waitHealthy('the start after a killed launcher to be healthy');
    expect(left.filter((e) => alive(e.pid))).toEqual([]);
    expect((await api('GET', '/v1/devices/pk-l/d-1')).status).toBe(200);
  });
});
