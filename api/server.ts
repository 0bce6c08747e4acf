/** The API process: wiring only. */
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config/config';
import { connectMongo } from '../db/mongo';
import { createLogger } from '../runtime/log';
import { onShutdown } from '../runtime/shutdown';
import { createTemporalDeviceEvents } from '../orchestration/temporal-device-events';
import { createApiServer, apiScheme } from './listener';
import { createApiApp } from './routes';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('api', config.logLevel);
  const mongo = await connectMongo(config.mongodbUrl);
  // Lazy: the API comes up (and /healthz can say "temporal down") even while Temporal is away.
  const temporal = Connection.lazy({ address: config.temporalAddress });
  const client = new Client({ connection: temporal, namespace: config.temporalNamespace });
  const registryEvents = createTemporalDeviceEvents({ client, db: mongo.db, taskQueue: config.temporalTaskQueue, log });
  const app = await createApiApp({ config, db: mongo.db, temporal, log, registryEvents });
  const server = createApiServer(app, config.apiHttp);
  server.listen(config.apiPort, config.apiHost, () => {
    log.info('API listening', { url: `${apiScheme(config.apiHttp)}://${config.apiHost}:${config.apiPort}` });
  });
  onShutdown(log, async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await temporal.close();
    await mongo.close();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`[api] failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
