/**
 * The task workflow's activities: fixing and growing the device list in
 * MongoDB, and starting device workflows in batches through the Temporal
 * client (top-level starts: no pending-children limit, a handful of history
 * events per batch instead of several per device).
 */
import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import type { Db, Filter } from 'mongodb';
import { treeDeviceKeysFor } from '../db/asset-trees';
import { devices, type DeviceDoc } from '../db/devices';
import { firmwares } from '../db/firmware';
import {
  appendTimeline,
  applyRecordUpdate,
  countOpenRecords,
  countsByStatus,
  insertWaitingRecords,
  pushableRecords,
  readmitRecord,
  reconcileOffline,
  recordsCollection,
  timelineEntry,
  type NewRecord,
} from '../db/records';
import { buildScopeQuery, scanScope } from '../db/scope';
import { findTask, setTaskStagePhase, setTaskStatus, type TaskDoc } from '../db/tasks';
import { deviceWorkflowId } from '../domain/ids';
import { needsTrees, type ScopeSpec } from '../domain/scope';
import type { Device } from '../domain/types';
import { deviceStartOptions } from '../orchestration/device-workflows';
import type { Logger } from '../runtime/log';
import { cancelDeviceUpgrade, taskPauseChanged } from '../workflows/messages';
import { signalIfRunning } from '../orchestration/signal-if-running';
import { OtaTaskId } from '../workflows/search-attributes';
import type { deviceUpgradeWorkflow } from '../workflows/device-upgrade';
import type { StartResult, TaskActivities } from './contracts';

/** Devices can report a version a little before our clock says so (several processes): rescan with overlap. */
const CLOCK_SKEW_MS = 5000;
const PAGE = 500;
/** Device workflow starts in flight at once from one starter activity. */
const PARALLEL_STARTS = 32;

export interface TaskActivityDeps {
  db: Db;
  client: Client;
  taskQueue: string;
  log: Logger;
}

export function createTaskActivities(deps: TaskActivityDeps): TaskActivities {
  const { db, client, taskQueue, log } = deps;

  const loadTask = async (taskId: string): Promise<TaskDoc> => {
    const task = await findTask(db, taskId);
    if (!task) throw new Error(`task ${taskId} not found in the database`);
    return task;
  };

  return {
    async prepareTask({ taskId }) {
      const task = await loadTask(taskId);
      const scanStartedAt = Date.now();
      const resumeFrom = (Context.current().info.heartbeatDetails as string | null | undefined) ?? null;
      let admitted = 0;
      for await (const page of scanScope(db, scopeOf(task), { pageSize: PAGE, after: resumeFrom })) {
        // Snapshot: only devices that existed when the task was created, however quickly later ones register.
        const members =
          task.strategy === 'snapshot'
            ? page.devices.filter((d) => Date.parse(d.createdAt) <= task.createdAt.getTime())
            : page.devices;
        admitted += await insertWaitingRecords(
          db,
          members.map((d) => newRecord(task, d)),
          new Date(),
        );
        Context.current().heartbeat(page.cursor);
      }
      log.info('task prepared', { taskId, strategy: task.strategy, admitted });
      return { admitted, cursorMs: scanStartedAt - CLOCK_SKEW_MS };
    },

    async admitNewDevices({ taskId, sinceMs }) {
      const task = await loadTask(taskId);
      const scanStartedAt = Date.now();
      const spec = scopeOf(task);
      const trees = needsTrees(spec)
        ? await treeDeviceKeysFor(db, spec.productKey, spec.filter?.assetTrees)
        : undefined;
      const since = new Date(sinceMs);
      const changed: Filter<DeviceDoc> = {
        ...buildScopeQuery(spec, trees),
        $or: [{ createdAt: { $gte: since } }, { versionReportedAt: { $gte: since } }],
      };
      let admitted = 0;
      let after: string | null = null;
      for (;;) {
        const query: Filter<DeviceDoc> = after === null ? changed : { $and: [changed, { deviceKey: { $gt: after } }] };
        const page = await devices(db)
          .find(query, { projection: { _id: 0, deviceSecret: 0 } })
          .sort({ deviceKey: 1 })
          .limit(PAGE)
          .toArray();
        log.debug('increment rescan page', { taskId, since: since.toISOString(), found: page.length });
        if (page.length === 0) break;
        admitted += await admitPage(db, task, page);
        after = page[page.length - 1].deviceKey;
        Context.current().heartbeat(after);
        if (page.length < PAGE) break;
      }
      if (admitted > 0) log.info('devices joined increment task', { taskId, admitted });
      return { admitted, cursorMs: scanStartedAt - CLOCK_SKEW_MS };
    },

    async startPushableDevices({ taskId, limit }): Promise<StartResult> {
      const task = await loadTask(taskId);
      const records = await pushableRecords(db, taskId, limit);
      const started: string[] = [];
      let skipped = 0;
      // Several starts in flight: one start waits on the server's persistence, and one after another
      // they capped the whole rollout at what a single caller gets.
      for (let i = 0; i < records.length; i += PARALLEL_STARTS) {
        const chunk = records.slice(i, i + PARALLEL_STARTS);
        const outcomes = await Promise.all(chunk.map((rec) => startDevice(client, db, task, rec.deviceKey, taskQueue)));
        outcomes.forEach((outcome, j) => {
          if (outcome === 'started') started.push(chunk[j].deviceKey);
          else if (outcome === 'busy') skipped += 1;
        });
        Context.current().heartbeat(i);
      }
      // Nothing more waiting online: a stale "offline" may hide some (see reconcileOffline).
      const exhausted = records.length < limit && (await reconcileOffline(db, taskId, task.productKey, 500)) === 0;
      return { started, skipped, exhausted };
    },

    async countOpenRecords({ taskId }) {
      return countOpenRecords(db, taskId);
    },

    async setTaskStagePhase({ taskId, phase }) {
      await setTaskStagePhase(db, taskId, phase);
    },

    async setTaskStatus({ taskId, status, reason }) {
      await setTaskStatus(db, taskId, status, reason);
    },

    async cancelTaskDevices({ taskId, reason }) {
      const now = new Date();
      const waiting = await recordsCollection(db).updateMany(
        { taskId, status: 'to_be_pushed', inWorkflow: false },
        {
          $set: { status: 'cancelled', waitReason: null, updatedAt: now },
          $push: appendTimeline(timelineEntry('cancelled', reason, now)),
        },
      );
      // Device workflows decide for themselves: cancelled unless the device is already upgrading.
      const task = await loadTask(taskId);
      const signalled = await signalDevices(client, task, ownedDeviceKeys(db, taskId), cancelDeviceUpgrade, {
        reason,
        taskId,
      });
      return { cancelled: waiting.modifiedCount, signalled };
    },

    async tellDevicesPaused({ taskId, paused, deviceKeys }) {
      const task = await loadTask(taskId);
      const keys = deviceKeys ?? ownedDeviceKeys(db, taskId);
      const signalled = await signalDevices(client, task, keys, taskPauseChanged, { taskId, paused });
      log.info(paused ? 'task paused: devices told' : 'task resumed: devices told', { taskId, signalled });
      return { signalled };
    },

    async concludeVerification({ taskId }) {
      const task = await loadTask(taskId);
      const counts = await countsByStatus(db, taskId);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      const verified = total > 0 && counts.success === total;
      if (verified) {
        await firmwares(db).updateOne(
          { firmwareId: task.firmwareId },
          { $set: { verified: true, verifiedAt: new Date(), verifiedBy: taskId } },
        );
      }
      log.info('verification concluded', { taskId, firmwareId: task.firmwareId, verified });
      return { verified };
    },
  };
}

/** Device keys of the task's records that a device workflow owns (running, or about to finish). */
async function* ownedDeviceKeys(db: Db, taskId: string): AsyncIterable<string> {
  const owned = recordsCollection(db).find({ taskId, inWorkflow: true }, { projection: { deviceKey: 1 } });
  for await (const rec of owned) yield rec.deviceKey;
}

/** Signals the named devices' workflows in this task; returns how many were running to hear it. */
async function signalDevices<T>(
  client: Client,
  task: TaskDoc,
  deviceKeys: Iterable<string> | AsyncIterable<string>,
  signal: SignalDefinition<[T]>,
  arg: T,
): Promise<number> {
  let signalled = 0;
  for await (const deviceKey of deviceKeys) {
    const handle = client.workflow.getHandle(deviceWorkflowId({ productKey: task.productKey, deviceKey }));
    // One that finished meanwhile has nothing to hear: its record says how it ended.
    if (await signalIfRunning(handle, signal, arg)) signalled += 1;
    Context.current().heartbeat(deviceKey);
  }
  return signalled;
}

function scopeOf(task: TaskDoc): ScopeSpec {
  return {
    productKey: task.productKey,
    sourceVersions: task.sourceVersions,
    scope: task.scope,
    ...(task.filter ? { filter: task.filter } : {}),
  };
}

function newRecord(task: TaskDoc, device: Pick<Device, 'deviceKey' | 'firmwareVersion' | 'online'>): NewRecord {
  return {
    taskId: task.taskId,
    productKey: task.productKey,
    deviceKey: device.deviceKey,
    fromVersion: device.firmwareVersion ?? null,
    toVersion: task.firmware.version,
    deviceOnline: device.online,
  };
}

/**
 * Admits a page of changed devices: new ones get a waiting record; ones
 * skipped (busy) or upgraded that reported a source version since are
 * re-admitted (SPEC behaviour 1: "may re-admit it later"). Failed devices
 * are not: a device that keeps failing would be pushed again at every
 * reconnect; the task's retry policy or an operator's retry decides instead.
 */
async function admitPage(db: Db, task: TaskDoc, page: DeviceDoc[]): Promise<number> {
  const now = new Date();
  let admitted = await insertWaitingRecords(
    db,
    page.map((d) => newRecord(task, d)),
    now,
  );
  for (const d of page) {
    if (!d.versionReportedAt) continue;
    const reportedAt = d.versionReportedAt;
    const readmitted = await readmitRecord(
      db,
      task.taskId,
      d.deviceKey,
      (r) => (r.status === 'skipped' || r.status === 'success') && r.updatedAt < reportedAt,
      { version: d.firmwareVersion ?? null, online: d.online },
      now,
    );
    if (readmitted) admitted += 1;
  }
  return admitted;
}

/**
 * Starts one device's workflow. A running workflow of another task means the
 * device is busy: its record is closed as skipped, naming the holder.
 */
async function startDevice(
  client: Client,
  db: Db,
  task: TaskDoc,
  deviceKey: string,
  taskQueue: string,
): Promise<'started' | 'running' | 'busy'> {
  try {
    await client.workflow.start<typeof deviceUpgradeWorkflow>(
      'deviceUpgradeWorkflow',
      deviceStartOptions(task, deviceKey, taskQueue),
    );
    return 'started';
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  const holder = await client.workflow
    .getHandle(deviceWorkflowId({ productKey: task.productKey, deviceKey }))
    .describe()
    .then((d) => d.typedSearchAttributes.get(OtaTaskId) ?? 'another task')
    .catch(() => 'another task');
  // Ours from an earlier attempt of this activity: it is running, not newly started.
  if (holder === task.taskId) return 'running';
  await applyRecordUpdate(db, {
    taskId: task.taskId,
    deviceKey,
    status: 'skipped',
    skipReason: `busy: being upgraded by ${holder}`,
    inWorkflow: false,
    timeline: [timelineEntry('skipped', `busy: being upgraded by ${holder}`)],
  });
  return 'busy';
}
