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

export async function createWorkerActivities(
  config: Config,
  log: Logger,
  connection: NativeConnection,
): Promise<WorkerActivities> {
  const mongo = await connectMongo(config.mongodbUrl);
  await ensureAllIndexes(mongo.db);
  // The worker's own native connection: a device workflow started through it comes back with its
  // first workflow task for this worker (eager start), with no poll and one history write fewer.
  const client = new Client({ connection, namespace: config.temporalNamespace });
  const route = createRouteActivities({ db: mongo.db, serviceSecret: config.serviceMqttPassword, log });
  return {
    activities: {
      ...createDeviceActivities({
        db: mongo.db,
        client,
        recheckS: config.deviceRecheckS,
        handOver: route.deliverUpgradeCommand,
      }),
      ...route,
      ...createTaskActivities({ db: mongo.db, client, taskQueue: config.temporalTaskQueue, log, eagerStart: true }),
    },
    async close() {
      await mongo.close();
    },
  };
}
