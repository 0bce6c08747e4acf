/** The gateway process: the embedded MQTT broker on OTA_MQTT_PORT and a small HTTP health port. */
import { loadConfig } from '../config/config';
import { createLogger } from '../runtime/log';
import { onShutdown } from '../runtime/shutdown';
import { startGateway } from './gateway';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('gateway', config.logLevel);
  const gateway = await startGateway({ config, log });
  log.info('gateway listening', { mqtt: `mqtt://${config.mqttHost}:${config.mqttPort}`, http: gateway.httpUrl });
  onShutdown(log, () => gateway.close());
}

main().catch((err: unknown) => {
  process.stderr.write(`[gateway] failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
