/**
 * The product's three services against the suite's Temporal and database:
 * the gateway and the API in this process (ephemeral ports), the worker as a
 * real child process (`dist/worker/worker.js`, built by the install step) so
 * a test can kill it outright and start it again.
 */
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createApiApp } from '../../api/routes';
import { loadConfig, PROJECT_ROOT, type Config } from '../../config/config';
import type { OutboxOptions } from '../../gateway/durable-events';
import { startGateway, type Gateway } from '../../gateway/gateway';
import { createTemporalDeviceEvents } from '../../orchestration/temporal-device-events';
import { silentLogger } from '../../runtime/log';
import { ManagedProcess } from '../../runtime/managed-process';
import { freePort } from '../../runtime/net';
import { temporalAddress, testDb, unique } from './stack';

export interface ServiceStack {
  config: Config;
  apiUrl: string;
  mqttUrl: string;
  gateway: Gateway;
  client: Client;
  db: Awaited<ReturnType<typeof testDb>>;
  /** Closes the in-process gateway and starts a new one on the same database (same gateway id, new ports). */
  restartGateway(): Promise<void>;
  startWorker(): Promise<void>;
  killWorker(): Promise<void>;
  api<T = unknown>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

export interface ServiceStackOptions {
  /** Where the in-process gateway and API reach Temporal (default: the suite's server; a proxy to cut it). */
  gatewayTemporalAddress?: string;
  /** The gateway's event retries and outbox (tests shorten its intervals). */
  outbox?: Partial<OutboxOptions>;
  /** More environment for the worker process (e.g. an OTLP endpoint). */
  workerEnv?: NodeJS.ProcessEnv;
}

export async function startServiceStack(name: string, opts: ServiceStackOptions = {}): Promise<ServiceStack> {
  const db = await testDb(name);
  const taskQueue = unique(`e2e-${name}`);
  // Known before listening: the API stores download URLs naming it, and the worker signs them.
  const apiPort = await freePort();
  const config = loadConfig({
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress(),
    MONGODB_URL: db.url,
    OTA_TASK_QUEUE: taskQueue,
    OTA_MQTT_PORT: '0',
    // Test files run side by side on one Temporal: each gateway's command queue is its own.
    OTA_GATEWAY_ID: unique(`gw-${name}`),
    OTA_MQTT_HOST: '127.0.0.1',
    OTA_GATEWAY_HTTP_PORT: '0',
    OTA_API_TOKEN: '',
    OTA_SERVICE_MQTT_PASSWORD: unique('svc'),
    OTA_DATA_DIR: path.join(process.env.OTA_TEST_TMP ?? os.tmpdir(), taskQueue),
    OTA_DOWNLOAD_BASE_URL: `http://127.0.0.1:${apiPort}`,
  });
  const connection = await Connection.connect({ address: opts.gatewayTemporalAddress ?? config.temporalAddress });
  const client = new Client({ connection });
  const events = createTemporalDeviceEvents({ client, db: db.db, taskQueue, log: silentLogger });
  const gatewayDeps = { config, log: silentLogger, db: db.db, events, outbox: opts.outbox };
  let gateway = await startGateway(gatewayDeps);
  const mqttUrl = `mqtt://127.0.0.1:${gateway.mqttPort}`;
  const app = await createApiApp({
    config: { ...config, gatewayUrl: gateway.httpUrl },
    db: db.db,
    temporal: connection,
    log: silentLogger,
    registryEvents: events,
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(apiPort, '127.0.0.1', resolve));
  const apiUrl = `http://127.0.0.1:${apiPort}`;

  let worker: ManagedProcess | undefined;
  const workerEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: config.temporalAddress,
    MONGODB_URL: db.url,
    OTA_TASK_QUEUE: taskQueue,
    OTA_SERVICE_MQTT_PASSWORD: config.serviceMqttPassword,
    // Free ports: test files run side by side, each with its own worker.
    OTA_WORKER_HTTP_PORT: '0',
    OTA_WORKER_SDK_METRICS_PORT: '0',
    OTA_DATA_DIR: config.dataDir,
    OTA_DOWNLOAD_BASE_URL: config.firmwareFiles.downloadBaseUrl,
    OTA_LOG_LEVEL: process.env.OTA_TEST_WORKER_LOG_LEVEL ?? 'warn',
    ...opts.workerEnv,
  };

  return {
    config,
    apiUrl,
    mqttUrl,
    get gateway() {
      return gateway;
    },
    client,
    db,
    async restartGateway() {
      await gateway.close();
      gateway = await startGateway(gatewayDeps);
    },
    async startWorker() {
      worker = new ManagedProcess({
        name: 'worker',
        command: process.execPath,
        args: [path.join(PROJECT_ROOT, 'dist/worker/worker.js')],
        env: workerEnv,
        logFile: path.join(process.env.OTA_TEST_TMP ?? '/tmp', `${taskQueue}-worker.log`),
      });
    },
    async killWorker() {
      worker?.child.kill('SIGKILL');
      await worker?.whenExited();
    },
    async api<T>(method: string, route: string, body?: unknown) {
      const res = await fetch(`${apiUrl}${route}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
    },
    async stop() {
      await worker?.stop(5000);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await gateway.close();
      await connection.close();
      await db.close();
    },
  };
}
