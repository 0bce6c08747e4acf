/**
 * The task workflow's activities: fixing and growing the device list in
 * MongoDB, and starting device workflows in batches through the Temporal
 * client (top-level starts: no pending-children limit, a handful of history
 * events per batch instead of several per device).
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import type { Db, Filter } from 'mongodb';
import { treeDeviceKeysFor } from '../db/asset-trees';
import { admit, type Candidate } from '../db/admission';
import { byIdentity, devices, type DeviceDoc } from '../db/devices';
import { firmwares } from '../db/firmware';
import {
  cancelWaitingRecords,
  countOpenRecords,
  countsByStatus,
  pushableRecords,
  recordsCollection,
  requeueFailedRecords,
} from '../db/records';
import { buildScopeQuery, isDeviceInScope, scanScope } from '../db/scope';
import { setTaskStagePhase, setTaskStatus } from '../db/tasks';
import { deviceWorkflowId } from '../domain/ids';
import { needsTrees } from '../domain/scope';
import type { Logger } from '../runtime/log';
import { cancelDeviceUpgrade, taskPauseChanged } from '../workflows/messages';
import { signalIfRunning } from '../orchestration/signal-if-running';
import type { StartResult, TaskActivities } from './contracts';
import { startDeviceWorkflow } from './device-start';

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
  /** The client shares the connection of a worker polling `taskQueue`: device workflows start eagerly on it. */
  eagerStart?: boolean;
}

export function createTaskActivities(deps: TaskActivityDeps): TaskActivities {
  const { db, client, taskQueue, log, eagerStart = false } = deps;

  return {
    async prepareTask({ task, createdAtMs }) {
      const scanStartedAt = Date.now();
      // A resumed scan goes on from its last page, and so does its count: the first stage's size depends on it.
      const resumed = prepareProgress(Context.current().info.heartbeatDetails);
      let admitted = resumed.admitted;
      for await (const page of scanScope(db, task.scope, { pageSize: PAGE, after: resumed.after })) {
        // Snapshot: only devices that existed when the task was created, however quickly later ones register.
        const members =
          task.strategy === 'snapshot'
            ? page.devices.filter((d) => Date.parse(d.createdAt) <= createdAtMs)
            : page.devices;
        await admit(
          db,
          { ...task, preparing: true },
          members.map((d) => ({ deviceKey: d.deviceKey, version: d.firmwareVersion ?? null })),
        );
        // Every member holds a record now, whether this attempt wrote it or an interrupted one did.
        admitted += members.length;
        const progress: PrepareProgress = { after: page.cursor, admitted };
        Context.current().heartbeat(progress);
      }
      log.info('task prepared', { taskId: task.taskId, strategy: task.strategy, admitted });
      return { admitted, cursorMs: scanStartedAt - CLOCK_SKEW_MS };
    },

    async admitNewDevices({ task, sinceMs }) {
      const scanStartedAt = Date.now();
      const spec = task.scope;
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
        log.debug('increment rescan page', { taskId: task.taskId, since: since.toISOString(), found: page.length });
        if (page.length === 0) break;
        admitted += await admit(
          db,
          task,
          page.map((d) => ({
            deviceKey: d.deviceKey,
            version: d.firmwareVersion ?? null,
            ...(d.versionReportedAt ? { reportedAt: d.versionReportedAt } : {}),
          })),
        );
        after = page[page.length - 1].deviceKey;
        Context.current().heartbeat(after);
        if (page.length < PAGE) break;
      }
      if (admitted > 0) log.info('devices joined increment task', { taskId: task.taskId, admitted });
      return { admitted, cursorMs: scanStartedAt - CLOCK_SKEW_MS };
    },

    async admitReported({ task, devices: reported }) {
      const candidates: Candidate[] = [];
      for (const r of reported) {
        // The reported version, not the registry's, whose write may still be queued.
        const doc = await devices(db).findOne(byIdentity({ productKey: task.productKey, deviceKey: r.deviceKey }), {
          projection: { _id: 0, deviceSecret: 0 },
        });
        if (!doc || !(await isDeviceInScope(db, task.scope, { ...doc, firmwareVersion: r.version }))) continue;
        candidates.push({ deviceKey: r.deviceKey, version: r.version, reportedAt: new Date(r.reportedAtMs) });
      }
      const admitted = await admit(db, task, candidates);
      if (admitted > 0) log.info('reported devices joined increment task', { taskId: task.taskId, admitted });
      return { admitted };
    },

    async startPushableDevices({ device, limit, after }): Promise<StartResult> {
      const pushable = await pushableRecords(db, device, limit, after ?? null);
      const started: string[] = [];
      let skipped = 0;
      // Several starts in flight: one start waits on the server's persistence, and one after another
      // they capped the whole rollout at what a single caller gets.
      for (let i = 0; i < pushable.deviceKeys.length; i += PARALLEL_STARTS) {
        const chunk = pushable.deviceKeys.slice(i, i + PARALLEL_STARTS);
        const outcomes = await Promise.all(
          chunk.map((deviceKey) => startDeviceWorkflow(client, db, device, deviceKey, taskQueue, eagerStart)),
        );
        outcomes.forEach((outcome, j) => {
          if (outcome === 'started') started.push(chunk[j]);
          else if (outcome === 'busy') skipped += 1;
        });
        Context.current().heartbeat(i);
      }
      return { started, skipped, exhausted: pushable.exhausted, lastKey: pushable.lastKey };
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

    async cancelTaskDevices({ taskId, productKey, reason }) {
      const cancelled = await cancelWaitingRecords(db, taskId, reason);
      // Device workflows decide for themselves: cancelled unless the device is already upgrading.
      const signalled = await signalDevices(client, productKey, ownedDeviceKeys(db, taskId), cancelDeviceUpgrade, {
        reason,
        taskId,
      });
      return { cancelled, signalled };
    },

    async requeueFailed({ taskId, deviceKeys }) {
      return requeueFailedRecords(db, taskId, deviceKeys);
    },

    async cancelOneDevice({ taskId, productKey, deviceKey, reason }) {
      if ((await cancelWaitingRecords(db, taskId, reason, deviceKey)) > 0) return 'cancelled';
      // Owned by a device workflow: it decides (cancelled unless the device is already upgrading).
      const signalled = await signalDevices(client, productKey, [deviceKey], cancelDeviceUpgrade, { reason, taskId });
      return signalled > 0 ? 'signalled' : 'none';
    },

    async tellDevicesPaused({ taskId, productKey, paused, deviceKeys }) {
      const keys = deviceKeys ?? ownedDeviceKeys(db, taskId);
      const signalled = await signalDevices(client, productKey, keys, taskPauseChanged, { taskId, paused });
      log.info(paused ? 'task paused: devices told' : 'task resumed: devices told', { taskId, signalled });
      return { signalled };
    },

    async concludeVerification({ taskId, firmwareId }) {
      const counts = await countsByStatus(db, taskId);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      const verified = total > 0 && counts.success === total;
      if (verified) {
        await firmwares(db).updateOne(
          { firmwareId },
          { $set: { verified: true, verifiedAt: new Date(), verifiedBy: taskId } },
        );
      }
      log.info('verification concluded', { taskId, firmwareId, verified });
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
  productKey: string,
  deviceKeys: Iterable<string> | AsyncIterable<string>,
  signal: SignalDefinition<[T]>,
  arg: T,
): Promise<number> {
  let signalled = 0;
  for await (const deviceKey of deviceKeys) {
    const handle = client.workflow.getHandle(deviceWorkflowId({ productKey, deviceKey }));
    // One that finished meanwhile has nothing to hear: its record says how it ended.
    if (await signalIfRunning(handle, signal, arg)) signalled += 1;
    Context.current().heartbeat(deviceKey);
  }
  return signalled;
}

/** How far an interrupted preparation got, from its last heartbeat. */
interface PrepareProgress {
  after: string | null;
  admitted: number;
}

function prepareProgress(details: unknown): PrepareProgress {
  const d = details as Partial<PrepareProgress> | null | undefined;
  return { after: d?.after ?? null, admitted: d?.admitted ?? 0 };
}
