/** Builds the activity implementations with their real clients (MongoDB, Temporal). */
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
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
  // The SDK's native (Rust) connection: the activities start a workflow per device, and through
  // it each start costs the worker a fraction of the JavaScript gRPC client's CPU. Its own, not the
  // worker's, which carries up to twice OTA_WORKER_MAX_POLLERS long polls.
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const client = new Client({ connection, namespace: config.temporalNamespace });
  return {
    activities: {
      ...createDeviceActivities({ db: mongo.db, client, recheckS: config.deviceRecheckS }),
      ...createRouteActivities({ db: mongo.db }),
      ...createTaskActivities({ db: mongo.db, client, taskQueue: config.temporalTaskQueue, log }),
    },
    async close() {
      await connection.close();
      await mongo.close();
    },
  };
}
