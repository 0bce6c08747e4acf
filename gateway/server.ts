/**
 * The gateway process: the EnOS device endpoint (embedded MQTT broker on
 * OTA_MQTT_PORT, and over TLS when configured; HTTP health and metrics), the
 * device registry in MongoDB, and the orchestration reached through Temporal
 * signals and updates; the worker hands it the upgrade commands for the devices
 * connected here at its command endpoint (gateway/command-endpoint.ts).
 */
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config/config';
import { connectMongo } from '../db/mongo';
import { createTemporalDeviceEvents } from '../orchestration/temporal-device-events';
import { waitForDependencies } from '../runtime/dependencies';
import { createLogger } from '../runtime/log';
import { onShutdown } from '../runtime/shutdown';
import { startGateway } from './gateway';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('gateway', config.logLevel, {}, { format: config.logFormat });
  // Started during a database outage, wait rather than exit; Temporal is reached lazily.
  await waitForDependencies({ database: config.mongodbUrl }, log);
  const mongo = await connectMongo(config.mongodbUrl);
  // Lazy: devices can log in and report while Temporal is still starting; calls retry once it answers.
  const connection = Connection.lazy({ address: config.temporalAddress });
  const client = new Client({ connection, namespace: config.temporalNamespace });
  const events = createTemporalDeviceEvents({ client, db: mongo.db, taskQueue: config.temporalTaskQueue, log });
  const gateway = await startGateway({ config, log, db: mongo.db, events });
  log.info('gateway listening', {
    mqtt: `mqtt://${config.mqttHost}:${gateway.mqttPort}`,
    ...(config.mqttTls && { mqtts: `mqtts://${config.mqttTls.host}:${gateway.mqttTlsPort}` }),
    http: gateway.httpUrl,
    gatewayId: gateway.gatewayId,
    commands: gateway.commandUrl,
  });
  onShutdown(log, async () => {
    await gateway.close();
    await connection.close();
    await mongo.close();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`[gateway] failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
