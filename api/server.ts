/**
 * The API process: wiring only. It listens at once and, until the database
 * answers and the app is built, answers 503 naming what it waits for (so
 * /healthz works during an outage that began before a restart).
 */
import * as http from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config/config';
import { connectMongo } from '../db/mongo';
import { retryUntilDone, waitForDependencies } from '../runtime/dependencies';
import { createLogger } from '../runtime/log';
import { onShutdown } from '../runtime/shutdown';
import { startTaskReconciler } from '../orchestration/task-reconciler';
import { createTemporalDeviceEvents } from '../orchestration/temporal-device-events';
import { apiRegistry } from './metrics';
import { errorBody } from './errors';
import { createApiServer, apiScheme } from './listener';
import { createApiApp } from './routes';

/** How often the API looks for tasks whose workflow could not be started. */
const TASK_RECONCILE_INTERVAL_MS = 15_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('api', config.logLevel, {}, { format: config.logFormat });
  // Filled once the database answers; until then every request gets a 503 that says why.
  const ready: { app?: (req: http.IncomingMessage, res: http.ServerResponse) => void } = {};
  const server = createApiServer((req, res) => {
    if (ready.app) return void ready.app(req, res);
    res.writeHead(503, { 'content-type': 'application/json' });
    const waiting = { status: 'down', error: 'the API is starting and waits for the database' };
    res.end(
      JSON.stringify(
        req.url === '/healthz'
          ? { status: 'down', dependencies: { database: waiting } }
          : errorBody('unavailable', waiting.error),
      ),
    );
  }, config.apiHttp);
  server.listen(config.apiPort, config.apiHost, () => {
    log.info('API listening', { url: `${apiScheme(config.apiHttp)}://${config.apiHost}:${config.apiPort}` });
  });
  // Lazy: the API comes up (and /healthz can say "temporal down") even while Temporal is away.
  const temporal = Connection.lazy({ address: config.temporalAddress });
  const client = new Client({ connection: temporal, namespace: config.temporalNamespace });
  let close = async () => temporal.close();
  onShutdown(log, async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await close();
  });

  await waitForDependencies({ database: config.mongodbUrl }, log);
  const mongo = await connectMongo(config.mongodbUrl);
  close = async () => {
    await temporal.close();
    await mongo.close();
  };
  const registryEvents = createTemporalDeviceEvents({ client, db: mongo.db, taskQueue: config.temporalTaskQueue, log });
  // Building the app writes indexes: the database may go away again in between.
  const app = await retryUntilDone(
    'the database indexes',
    () => createApiApp({ config, db: mongo.db, temporal, log, registryEvents }),
    log,
  );
  const metrics = apiRegistry({
    db: mongo.db,
    temporal,
    namespace: config.temporalNamespace,
    taskQueue: config.temporalTaskQueue,
    log,
  });
  // GET /metrics sits beside /healthz, outside /v1 and its token, where Prometheus scrapes it.
  ready.app = metrics.wrap(app);
  // Tasks stored while Temporal was unreachable get their workflow as soon as it answers.
  const reconciler = startTaskReconciler(
    { db: mongo.db, client, taskQueue: config.temporalTaskQueue, log },
    TASK_RECONCILE_INTERVAL_MS,
  );
  close = async () => {
    reconciler.stop();
    await temporal.close();
    await mongo.close();
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`[api] failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
