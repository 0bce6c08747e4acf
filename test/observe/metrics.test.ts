/**
 * Every process of the service serves Prometheus text that promtool accepts,
 * and the Grafana dashboard asks only for metrics that something serves. The
 * three processes run as they do in production (built entry points, own
 * ports) against the suite's Temporal and database, with a device that logs
 * in, reports and asks for firmware, and one that is refused.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../config/config';
import { ManagedProcess } from '../../runtime/managed-process';
import { freePort, waitUntil } from '../../runtime/net';
import { Fleet, SimulatedDevice } from '../../simulator';
import { temporalAddress, testDb, unique } from '../helpers/stack';
import { dashboardMetricNames, servedMetricNames } from './promql';

const TMP = process.env.OTA_TEST_TMP ?? '/tmp';
const PROMTOOL = [path.join(process.env.OTA_TOOLS_DIR ?? path.join(PROJECT_ROOT, '.tools'), 'bin/promtool')].find((p) =>
  fs.existsSync(p),
);

let db: Awaited<ReturnType<typeof testDb>>;
let fleet: Fleet | undefined;
const procs: ManagedProcess[] = [];
const urls: Record<'api' | 'gateway' | 'worker' | 'temporalSdk', string> = {
  api: '',
  gateway: '',
  worker: '',
  temporalSdk: '',
};
const texts: Record<string, string> = {};

function start(name: string, entry: string, env: NodeJS.ProcessEnv): void {
  procs.push(
    new ManagedProcess({
      name,
      command: process.execPath,
      args: [path.join(PROJECT_ROOT, entry)],
      env,
      logFile: path.join(TMP, `metrics-${name}-${process.pid}.log`),
    }),
  );
}

async function post(route: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${urls.api}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function ok(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(2000) }).then(
    (r) => r.ok,
    () => false,
  );
}

beforeAll(async () => {
  if (!PROMTOOL) throw new Error('promtool is not installed: run scripts/install.sh');
  db = await testDb('metrics');
  const [api, mqtt, gatewayHttp, workerHttp, sdk] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress(),
    MONGODB_URL: db.url,
    OTA_TASK_QUEUE: unique('metrics'),
    OTA_SERVICE_MQTT_PASSWORD: unique('svc'),
    OTA_API_TOKEN: '',
    OTA_API_PORT: String(api),
    OTA_MQTT_PORT: String(mqtt),
    OTA_MQTT_HOST: '127.0.0.1',
    OTA_GATEWAY_HTTP_PORT: String(gatewayHttp),
    OTA_WORKER_HTTP_PORT: String(workerHttp),
    OTA_WORKER_SDK_METRICS_PORT: String(sdk),
    OTA_LOG_LEVEL: 'warn',
  };
  start('gateway', 'dist/gateway/server.js', env);
  start('worker', 'dist/worker/worker.js', env);
  start('api', 'dist/api/server.js', env);
  urls.api = `http://127.0.0.1:${api}`;
  urls.gateway = `http://127.0.0.1:${gatewayHttp}`;
  urls.worker = `http://127.0.0.1:${workerHttp}`;
  urls.temporalSdk = `http://127.0.0.1:${sdk}`;
  // The API's health is up only when the database, Temporal, the gateway and a polling worker are.
  await waitUntil('the API to report every dependency up', () => ok(`${urls.api}/healthz`), 90_000, 500);

  // A device verifies a firmware (a push, progress reports, the workflows and their activities); an impostor is refused.
  const productKey = 'metrics-pk';
  const good = { productKey, deviceKey: 'dev-1', deviceSecret: 'secret-of-dev-1', version: '1.0.0' };
  const mqttUrl = `mqtt://127.0.0.1:${mqtt}`;
  expect(
    await post('/v1/devices:batch', {
      devices: [
        { productKey, deviceKey: 'dev-1', deviceSecret: good.deviceSecret },
        // Never connects: a task's record that waits for it is what the rollout gauge shows.
        { productKey, deviceKey: 'dev-2', deviceSecret: 'secret-of-dev-2', firmwareVersion: '1.0.0' },
      ],
    }),
  ).toMatchObject({ status: 200 });
  fleet = new Fleet({ url: mqttUrl }, [{ ...good, behaviour: { kind: 'succeed', stepDelayMs: 20 } }]);
  expect(await fleet.connect()).toBe(1);
  expect(await fleet.device('dev-1').getversion()).toBeDefined();
  const impostor = new SimulatedDevice(
    { ...good, deviceSecret: 'wrong' },
    { url: mqttUrl, keepaliveSec: 30, requestTimeoutMs: 5000, connectTimeoutMs: 5000 },
    () => undefined,
  );
  expect(await impostor.connect()).toBe(false);
  const fw = await post('/v1/firmwares', {
    productKey,
    version: '2.0.0',
    fileUrl: '/files/metrics-2.0.0',
    fileSize: 4096,
    signMethod: 'md5',
    sign: '9E107D9D372BB6826BD81D3542A419D6',
  });
  expect(fw.status).toBe(201);
  const firmwareId = (fw.body as { firmwareId: string }).firmwareId;
  expect(await post(`/v1/firmwares/${firmwareId}/verification`, { deviceKeys: ['dev-1'] })).toMatchObject({
    status: 202,
  });
  await waitUntil(
    'the firmware to be verified on the device',
    async () =>
      ((await (await fetch(`${urls.api}/v1/firmwares/${firmwareId}`)).json()) as { verified: boolean }).verified,
    90_000,
    500,
  );
  await waitUntil(
    'the verification to be completed',
    async () =>
      ((await (await fetch(`${urls.api}/v1/firmwares/${firmwareId}/verification`)).json()) as { status: string })
        .status === 'completed',
    60_000,
    500,
  );
  const task = await post('/v1/upgrade-tasks', {
    firmwareId,
    sourceVersions: ['1.0.0'],
    strategy: 'snapshot',
    scope: 'target',
    filter: { deviceKeys: ['dev-2'] },
    method: 'push',
  });
  expect(task.status).toBe(201);
  const taskId = (task.body as { taskId: string }).taskId;
  await waitUntil(
    'the task to run, its offline device waiting',
    async () => {
      // The task's status and its device's record are written by separate steps: wait for both.
      const body = (await (await fetch(`${urls.api}/v1/upgrade-tasks/${taskId}`)).json()) as {
        status: string;
        counts: Record<string, number>;
      };
      return body.status === 'running' && body.counts.to_be_pushed === 1;
    },
    60_000,
    500,
  );

  for (const [name, url] of Object.entries(urls)) {
    const r = await fetch(`${url}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    texts[name] = await r.text();
  }
}, 180_000);

afterAll(async () => {
  await fleet?.close();
  await Promise.all(procs.map((p) => p.stop(5000)));
  await db?.close();
});

describe('/metrics', () => {
  it.each(['api', 'gateway', 'worker', 'temporalSdk'])('%s serves text that promtool check metrics accepts', (name) => {
    const text = texts[name];
    expect(text.length).toBeGreaterThan(0);
    // promtool reads the exposition on stdin and exits non-zero on a format error or a naming-convention problem.
    const out = execFileSync(PROMTOOL as string, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(out).toBe('');
  });

  it('counts what the device did and why the impostor was refused', () => {
    const gateway = texts.gateway;
    expect(gateway).toMatch(/^ota_gateway_logins_refused_total\{reason="wrong signature"\} 1$/m);
    expect(gateway).toMatch(/^ota_gateway_messages_total\{kind="inform"\} [1-9]/m);
    expect(gateway).toMatch(/^ota_gateway_messages_total\{kind="progress"\} [1-9]/m);
    expect(gateway).toMatch(/^ota_gateway_commands_total\{result="delivered"\} 1$/m);
    expect(gateway).toMatch(/^ota_gateway_offer_latency_seconds_count 1$/m);
    expect(gateway).toMatch(/^ota_gateway_logins_accepted_total [1-9]/m);
    expect(texts.api).toMatch(
      /^ota_api_http_requests_total\{method="POST",route="\/v1\/devices:batch",status="200"\} 1$/m,
    );
    // The verification is over (its device no longer counts); the task waits for its offline device.
    expect(texts.api).toMatch(/^ota_upgrade_tasks\{status="completed"\} 1$/m);
    expect(texts.api).toMatch(/^ota_upgrade_tasks\{status="running"\} 1$/m);
    expect(texts.api).toMatch(/^ota_rollout_devices\{status="to_be_pushed"\} 1$/m);
    expect(texts.api).toMatch(/^ota_rollout_devices\{status="success"\} 0$/m);
    expect(texts.api).toMatch(/^ota_temporal_task_queue_backlog\{task_queue="[^"]+",type="workflow"\} \d+$/m);
    expect(texts.worker).toMatch(/^ota_worker_activities_total\{activity="[^"]+",outcome="completed"\} [1-9]/m);
    expect(texts.temporalSdk).toMatch(/^temporal_\w+/m);
  });
});

describe('the Grafana dashboard', () => {
  it('is valid JSON whose queries name only metrics the processes serve', () => {
    const file = path.join(PROJECT_ROOT, 'deploy/grafana/ota-dashboard.json');
    const wanted = dashboardMetricNames(JSON.parse(fs.readFileSync(file, 'utf8')));
    expect(wanted.size).toBeGreaterThan(10);
    const served = new Set(Object.values(texts).flatMap((t) => [...servedMetricNames(t)]));
    expect([...wanted].filter((name) => !served.has(name))).toEqual([]);
  });
});

describe('the docker-compose observability profile', () => {
  it('has a Prometheus configuration that promtool check config accepts', () => {
    const file = path.join(PROJECT_ROOT, 'deploy/prometheus/prometheus.yml');
    const out = execFileSync(PROMTOOL as string, ['check', 'config', file], { encoding: 'utf8' });
    expect(out).toContain('SUCCESS');
  });
});
