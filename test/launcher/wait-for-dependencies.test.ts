/**
 * A service started while its database or Temporal is down waits for it
 * instead of exiting, and serves once it appears: the API (answering 503
 * naming the database meanwhile) and the worker, each as its real process
 * (`dist/…`), with the missing server started later on the port they were given.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { PROJECT_ROOT } from '../../config/config';
import { startDatabase, startTemporalDevServer } from '../../runtime/infra';
import { ManagedProcess } from '../../runtime/managed-process';
import { freePort } from '../../runtime/net';
import { eventually } from '../helpers/eventually';
import { unique } from '../helpers/stack';

jest.setTimeout(300_000);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-wait-'));
const owned: ManagedProcess[] = [];
const toolsDir = () => process.env.OTA_TOOLS_DIR ?? path.join(PROJECT_ROOT, '.tools');

function service(name: 'api' | 'worker', env: NodeJS.ProcessEnv): ManagedProcess {
  const entry = name === 'api' ? 'dist/api/server.js' : 'dist/worker/worker.js';
  const proc = new ManagedProcess({
    name,
    command: process.execPath,
    args: [path.join(PROJECT_ROOT, entry)],
    env: { ...process.env, OTA_API_TOKEN: '', OTA_DATA_DIR: tmp, OTA_SERVICE_MQTT_PASSWORD: 'x', ...env },
    logFile: path.join(tmp, `${name}.log`),
  });
  owned.push(proc);
  return proc;
}

afterAll(async () => {
  for (const p of owned.reverse()) await p.stop(5000);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('a service started during an outage', () => {
  it('API: answers 503 naming the database until it appears, then serves', async () => {
    const [apiPort, dbPort] = [await freePort(), await freePort()];
    const api = service('api', {
      OTA_API_PORT: String(apiPort),
      MONGODB_URL: `mongodb://127.0.0.1:${dbPort}/ota`,
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
      OTA_GATEWAY_URL: `http://127.0.0.1:${await freePort()}`,
    });
    const get = (route: string) =>
      fetch(`http://127.0.0.1:${apiPort}${route}`)
        .then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }))
        .catch(() => ({ status: 0, body: {} }));
    const waiting = await eventually(
      'the API to answer',
      () => get('/healthz'),
      (r) => r.status !== 0,
      60_000,
      200,
    );
    expect(waiting).toMatchObject({ status: 503, body: { dependencies: { database: { status: 'down' } } } });
    expect(await get('/v1/devices')).toMatchObject({ status: 503, body: { error: { code: 'unavailable' } } });
    expect(api.running).toBe(true);

    owned.push(
      await startDatabase({
        toolsDir: toolsDir(),
        port: dbPort,
        dataDir: path.join(tmp, 'db'),
        logFile: path.join(tmp, 'database.log'),
      }),
    );
    await eventually(
      'the API to serve',
      () => get('/v1/devices'),
      (r) => r.status === 200,
      120_000,
      500,
    );
  });

  it('worker: keeps waiting for Temporal, then polls its task queue', async () => {
    const temporalPort = await freePort();
    const taskQueue = unique('wait-worker');
    const worker = service('worker', {
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      MONGODB_URL: `${process.env.OTA_TEST_MONGODB_URL ?? ''}ota_wait_${process.pid}`,
      OTA_TASK_QUEUE: taskQueue,
      OTA_MQTT_URL: `mqtt://127.0.0.1:${await freePort()}`,
    });
    await eventually(
      'the worker to say it waits for Temporal',
      () => (fs.existsSync(path.join(tmp, 'worker.log')) ? fs.readFileSync(path.join(tmp, 'worker.log'), 'utf8') : ''),
      (log) => log.includes('waiting for Temporal'),
      60_000,
      200,
    );
    expect(worker.running).toBe(true);

    owned.push(
      await startTemporalDevServer({
        toolsDir: toolsDir(),
        port: temporalPort,
        logFile: path.join(tmp, 'temporal.log'),
      }),
    );
    const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
    try {
      await eventually(
        'the worker to poll',
        async () =>
          (
            await connection.workflowService.describeTaskQueue({
              namespace: 'default',
              taskQueue: { name: taskQueue },
              taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            })
          ).pollers?.length ?? 0,
        (n) => n > 0,
        120_000,
        500,
      );
      expect(worker.running).toBe(true);
    } finally {
      await connection.close();
    }
  });
});
