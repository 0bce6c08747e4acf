/** Builds the activity implementations with their real clients (MongoDB, MQTT, Temporal). */
import type { Config } from '../config/config';
import { connectMongo } from '../db/mongo';
import type { Logger } from '../runtime/log';

export interface WorkerActivities {
  activities: Record<string, (...args: never[]) => Promise<unknown>>;
  close(): Promise<void>;
}

export async function createWorkerActivities(config: Config, log: Logger): Promise<WorkerActivities> {
  const mongo = await connectMongo(config.mongodbUrl);
  log.debug('activities connected to the database');
  return {
    activities: {},
    close: () => mongo.close(),
  };
}
