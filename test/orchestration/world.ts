/**
 * A test world for the orchestration: the real workflows and activities on a
 * Temporal server, the real MongoDB records and tasks, the real gateway-side
 * event sink (createTemporalDeviceEvents). Only the last hop — publishing the
 * MQTT command — is replaced by scripted devices that answer through the same
 * event sink the gateway uses. The end-to-end test covers the real MQTT hop.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Db } from 'mongodb';
import { createDeviceActivities } from '../../activities/device-activities';
import type { CommandHandover, CommandRequest } from '../../activities/gateway-contracts';
import { createRouteActivities } from '../../activities/route-activities';
import { createTaskActivities } from '../../activities/task-activities';
import { ensureAllIndexes } from '../../db/all-indexes';
import { devices, newDeviceDoc } from '../../db/devices';
import { firmwares } from '../../db/firmware';
import { applyRecordUpdate, countsByStatus, recordsCollection } from '../../db/records';
import type { RecordUpdate } from '../../domain/rollout';
import { findTask } from '../../db/tasks';
import type { Firmware, RecordStatus, UpgradeTaskRequest } from '../../domain/types';
import { createTaskService, taskFromRequest, type TaskService } from '../../orchestration/task-service';
import { createTemporalDeviceEvents } from '../../orchestration/temporal-device-events';
import type { DeviceEvents, RegistryEvents } from '../../orchestration/device-events';
import { silentLogger } from '../../runtime/log';
import { testDb, unique, workflowBundle } from '../helpers/stack';

export const PK = 'pk-test';

/** What a scripted device does when a command reaches it. */
export type Script =
  | 'instant'
  | 'succeed'
  | 'succeed-by-inform'
  | 'fail'
  | 'silent'
  | ((attempt: number) => 'succeed' | 'fail' | 'silent');

export interface World {
  db: Db;
  env: TestWorkflowEnvironment;
  worker: Worker;
  /** Names the one gateway in presence (`devices.gatewayId` of an online device). */
  gatewayId: string;
  taskQueue: string;
  tasks: TaskService;
  events: DeviceEvents & RegistryEvents;
  pushes: Array<{ deviceKey: string; commandId: string; at: number }>;
  script: Map<string, Script>;
  firmware: Firmware;
  addDevice(
    deviceKey: string,
    opts?: { version?: string; online?: boolean; tags?: Record<string, string> },
  ): Promise<void>;
  setOnline(deviceKey: string, online: boolean): Promise<void>;
  createTask(req: Partial<UpgradeTaskRequest>, opts?: { historyBudget?: number }): Promise<string>;
  counts(taskId: string): Promise<Record<RecordStatus, number>>;
  record(taskId: string, deviceKey: string): Promise<Record<string, unknown> | null>;
  taskStatus(taskId: string): Promise<string | undefined>;
}

/** Options of a world. */
export interface WorldOptions {
  /**
   * The worker's OTA_DEVICE_RECHECK_S. Hourly unless given: on the time-skipping server days
   * pass in seconds, and a waiting device workflow woken every minute would make them minutes.
   */
  deviceRecheckS?: number;
}
const WORLD_RECHECK_S = 3600;

export async function createWorld(env: TestWorkflowEnvironment, db: Db, opts: WorldOptions = {}): Promise<World> {
  await ensureAllIndexes(db);
  const taskQueue = unique('orch');
  const log = silentLogger;
  const events = createTemporalDeviceEvents({ client: env.client, db, taskQueue, log });
  const pushes: World['pushes'] = [];
  const script = new Map<string, Script>();
  const attempts = new Map<string, number>();

  // The gateway's hop to the device: scripted "devices" answer through the gateway's event sink.
  const deliver = {
    async deliverUpgradeCommand({
      command,
      recordIfDelivered,
    }: CommandRequest & { recordIfDelivered?: RecordUpdate }): Promise<CommandHandover> {
      const { commandId, firmware, ...device } = command;
      const { deviceKey } = device;
      pushes.push({ deviceKey, commandId, at: Date.now() });
      const n = (attempts.get(deviceKey) ?? 0) + 1;
      attempts.set(deviceKey, n);
      const chosen = script.get(deviceKey) ?? 'succeed';
      const behaviour = typeof chosen === 'function' ? chosen(n) : chosen;
      // Answer after the activity completes, as a device on the other side of MQTT would.
      setTimeout(
        () => {
          void (async () => {
            if (behaviour === 'silent') return;
            if (behaviour !== 'instant') await events.progressReported(device, 20, 'downloading');
            if (behaviour === 'fail') return events.progressReported(device, -2, 'download failed');
            if (behaviour === 'succeed' || behaviour === 'instant') return events.progressReported(device, 100, 'done');
            await devices(db).updateOne(device, {
              $set: { firmwareVersion: firmware.version, versionReportedAt: new Date() },
            });
            await events.versionReported(device, firmware.version);
          })().catch(() => undefined);
        },
        behaviour === 'instant' ? 0 : 50,
      );
      if (recordIfDelivered) await applyRecordUpdate(db, recordIfDelivered);
      return { delivery: 'delivered' };
    },
  };
  const scriptedDevice = createDeviceActivities({
    db,
    client: env.client,
    recheckS: opts.deviceRecheckS ?? WORLD_RECHECK_S,
    handOver: deliver.deliverUpgradeCommand,
  });

  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: {
      ...scriptedDevice,
      ...createRouteActivities({ db, serviceSecret: unique('svc'), log }),
      // The gateway holding every online device's session hands the commands to the scripted devices.
      ...deliver,
      ...createTaskActivities({ db, client: env.client, taskQueue, log }),
    },
  });
  const gatewayId = unique('world-gw');

  const firmware: Firmware = {
    firmwareId: unique('fw'),
    productKey: PK,
    version: '2.0.0',
    name: 'fw',
    description: '',
    fileUrl: '/files/fw-2.0.0.bin',
    fileSize: 1024,
    signMethod: 'md5',
    sign: '9e107d9d372bb6826bd81d3542a419d6',
    verified: true,
    createdAt: new Date().toISOString(),
  };
  await firmwares(db).insertOne({ ...firmware, createdAt: new Date() });
  const tasks = createTaskService({ db, client: env.client, taskQueue });

  return {
    db,
    env,
    worker,
    gatewayId,
    taskQueue,
    tasks,
    events,
    pushes,
    script,
    firmware,
    async addDevice(deviceKey, opts = {}) {
      const now = new Date(Date.now() - 1000);
      await devices(db).insertOne({
        ...newDeviceDoc({ productKey: PK, deviceKey, deviceSecret: 'secret', tags: opts.tags ?? {} }, now),
        firmwareVersion: opts.version ?? '1.0.0',
        versionReportedAt: now,
        online: opts.online ?? true,
        gatewayId: (opts.online ?? true) ? gatewayId : null,
        lastSeenAt: now,
      });
    },
    async setOnline(deviceKey, online) {
      const device = { productKey: PK, deviceKey };
      await devices(db).updateOne(device, { $set: { online, gatewayId: online ? gatewayId : null } });
      if (online) await events.connected(device);
      else await events.disconnected(device, 'test');
    },
    async createTask(req, opts = {}) {
      const request: UpgradeTaskRequest = {
        firmwareId: firmware.firmwareId,
        sourceVersions: ['1.0.0'],
        strategy: 'snapshot',
        scope: 'all',
        method: 'push',
        upgradeTimeout: 600,
        maxConcurrency: 10,
        ...req,
      };
      const service = opts.historyBudget
        ? createTaskService({ db, client: env.client, taskQueue, historyBudget: opts.historyBudget })
        : tasks;
      const { task } = await service.create(taskFromRequest(request, firmware), { kind: 'task' });
      return task.taskId;
    },
    counts: (taskId) => countsByStatus(db, taskId),
    record: (taskId, deviceKey) => recordsCollection(db).findOne({ taskId, deviceKey }, { projection: { _id: 0 } }),
    taskStatus: async (taskId) => (await findTask(db, taskId))?.status,
  };
}

/** Polls a condition against the database while the worker runs (test-side only). */
export { eventually } from '../helpers/eventually';

/**
 * One world per test file: the environment, a private database, the worker
 * running for the whole file, all torn down after it. Read the fields inside
 * tests (they are set in beforeAll).
 */
export function useWorld(
  name: string,
  makeEnv: () => Promise<TestWorkflowEnvironment>,
  opts: WorldOptions = {},
): { world: World; env: TestWorkflowEnvironment; mongo: Awaited<ReturnType<typeof testDb>> } {
  const t = {} as { world: World; env: TestWorkflowEnvironment; mongo: Awaited<ReturnType<typeof testDb>> };
  let running: Promise<void>;
  beforeAll(async () => {
    t.env = await makeEnv();
    t.mongo = await testDb(name);
    t.world = await createWorld(t.env, t.mongo.db, opts);
    running = t.world.worker.run();
  });
  afterAll(async () => {
    t.world.worker.shutdown();
    await running;
    await t.mongo.close();
    await t.env.teardown();
  });
  return t;
}
