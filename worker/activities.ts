/** Builds the activity implementations with their real clients (MongoDB, MQTT, Temporal). */
import { Client, Connection } from '@temporalio/client';
import { createCommandPublisher } from '../activities/command-publisher';
import { fileUrlSigner } from '../artifacts/signed-url';
import { createDeviceActivities } from '../activities/device-activities';
import { createRouteActivities } from '../activities/route-activities';
import { createTaskActivities } from '../activities/task-activities';
import type { Config } from '../config/config';
import { ensureAllIndexes } from '../db/all-indexes';
import { connectMongo } from '../db/mongo';
import type { Logger } from '../runtime/log';

export interface WorkerActivities {
  activities: object;
  close(): Promise<void>;
}

export async function createWorkerActivities(config: Config, log: Logger): Promise<WorkerActivities> {
  const mongo = await connectMongo(config.mongodbUrl);
  await ensureAllIndexes(mongo.db);
  const connection = await Connection.connect({ address: config.temporalAddress });
  const client = new Client({ connection, namespace: config.temporalNamespace });
  const publisher = createCommandPublisher({
    url: config.mqttUrl,
    username: config.serviceMqttUsername,
    password: config.serviceMqttPassword,
    signFileUrl: fileUrlSigner(config.firmwareFiles),
  });
  return {
    activities: {
      ...createDeviceActivities({ db: mongo.db, publisher, client }),
      ...createRouteActivities({ db: mongo.db }),
      ...createTaskActivities({ db: mongo.db, client, taskQueue: config.temporalTaskQueue, log }),
    },
    async close() {
      await publisher.close();
      await connection.close();
      await mongo.close();
    },
  };
}
