/**
 * Creating and steering tasks, for the API: mark the task's start pending,
 * write the task, then start its workflow with the task id as workflow id
 * (task-start.ts: at most one run per task, ever). A retried request with the
 * same Idempotency-Key finds the task; a start Temporal could not take is
 * left to the reconciler. Control calls check the workflow first, so an
 * outage (503) or a missing workflow (409) is refused before anything changes.
 */
import * as crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { devices } from '../db/devices';
import { isDuplicateKey } from '../db/mongo';
import { appendTimeline, recordId, recordsCollection, timelineEntry } from '../db/records';
import { clearStartPending, isStartPending, markStartPending } from '../db/pending-task-starts';
import { findTask, tasksCollection, type TaskDoc } from '../db/tasks';
import { conflict, notFound } from '../domain/errors';
import { deviceWorkflowId, taskWorkflowId } from '../domain/ids';
import { toOffer, type Firmware, type UpgradeTaskRequest } from '../domain/types';
import { isTemporalUnavailable } from '../runtime/unavailable';
import { cancelDeviceUpgrade, cancelTask, devicesReady, pauseTask, resumeTask } from '../workflows/messages';
import { signalIfRunning } from './signal-if-running';
import { startTaskWorkflow } from './task-start';
import { isRunning, withTemporal } from './temporal-calls';

export interface TaskServiceDeps {
  db: Db;
  client: Client;
  taskQueue: string;
  /** Continue-as-new threshold for task workflows; tests lower it to exercise continue-as-new. */
  historyBudget?: number;
}

/** Time-ordered, unique task ids: newest-first lists sort on the id alone. */
export function newTaskId(prefix: 'task' | 'verify', idempotencyKey?: string): string {
  if (idempotencyKey) {
    return `${prefix}-${crypto.createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 20)}`;
  }
  return `${prefix}-${Date.now().toString(36).padStart(9, '0')}-${crypto.randomBytes(5).toString('hex')}`;
}

export type NewTask = Omit<TaskDoc, 'taskId' | 'workflowId' | 'status' | 'createdAt' | 'updatedAt' | 'firmware'> & {
  firmware: Firmware;
};

export function taskFromRequest(req: UpgradeTaskRequest, firmware: Firmware): NewTask {
  return {
    kind: 'batch',
    name: req.name ?? `Upgrade ${firmware.productKey} to ${firmware.version}`,
    firmwareId: firmware.firmwareId,
    productKey: firmware.productKey,
    firmware,
    sourceVersions: req.sourceVersions,
    strategy: req.strategy,
    scope: req.scope,
    ...(req.filter ? { filter: req.filter } : {}),
    method: req.method,
    ...(req.schedule ? { schedule: req.schedule } : {}),
    upgradeTimeout: req.upgradeTimeout,
    maxConcurrency: req.maxConcurrency,
    ...(req.retry ? { retry: req.retry } : {}),
    ...(req.autoPause ? { autoPause: req.autoPause } : {}),
    ...(req.rateLimit ? { rateLimit: req.rateLimit } : {}),
    ...(req.firstStage ? { firstStage: req.firstStage } : {}),
    ...(req.soakMinutes ? { soakMinutes: req.soakMinutes } : {}),
    // Normalised, so that the task shows (and the workflow reads) one unambiguous instant.
    ...(req.endTime ? { endTime: new Date(req.endTime).toISOString() } : {}),
  };
}

export function createTaskService(deps: TaskServiceDeps) {
  const { db, client, taskQueue } = deps;

  const startDeps = { client, taskQueue, historyBudget: deps.historyBudget };

  const requireTask = async (taskId: string): Promise<TaskDoc> => {
    const task = await findTask(db, taskId);
    if (!task) throw notFound(`upgrade task ${taskId} not found`);
    return task;
  };

  const requireActive = async (taskId: string): Promise<TaskDoc> => {
    const task = await requireTask(taskId);
    if (task.status === 'completed' || task.status === 'cancelled') {
      throw conflict(`upgrade task ${taskId} is ${task.status}`);
    }
    return task;
  };

  const signalTask = async (task: TaskDoc, send: (h: ReturnType<Client['workflow']['getHandle']>) => Promise<void>) => {
    await withTemporal(client, () => send(client.workflow.getHandle(taskWorkflowId(task.taskId))));
  };

  /** Before an operator's change: the task's workflow runs (started now if its creation was cut short). */
  const requireWorkflow = async (task: TaskDoc): Promise<void> => {
    await withTemporal(client, async () => {
      const running = await isRunning(client.workflow.getHandle(taskWorkflowId(task.taskId)));
      if (running) return;
      if (running === undefined && (await isStartPending(db, task.taskId))) {
        await startTaskWorkflow(startDeps, task);
        await clearStartPending(db, task.taskId);
        return;
      }
      throw conflict(`upgrade task ${task.taskId} has no running workflow (it has just finished, or never started)`);
    });
  };

  return {
    requireTask,

    /** Returns the task and whether this call created it (false: an earlier try with the same key did). */
    async create(
      fields: NewTask,
      opts: { kind: 'task' | 'verify'; idempotencyKey?: string },
    ): Promise<{ task: TaskDoc; created: boolean }> {
      const taskId = newTaskId(opts.kind, opts.idempotencyKey);
      const now = new Date();
      const task: TaskDoc = {
        ...fields,
        firmware: toOffer(fields.firmware),
        taskId,
        workflowId: taskWorkflowId(taskId),
        status: 'waiting',
        ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}),
        createdAt: now,
        updatedAt: now,
      };
      // Marked before the task is visible: whatever stops this call, the reconciler finishes it.
      await markStartPending(db, taskId);
      let created = true;
      try {
        await tasksCollection(db).insertOne({ ...task });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        created = false;
      }
      const stored = (await findTask(db, taskId)) as TaskDoc;
      // A retried create of a finished task returns it as it is; start's policies would refuse anyway.
      if (stored.status === 'completed' || stored.status === 'cancelled') {
        await clearStartPending(db, taskId);
        return { task: stored, created };
      }
      try {
        await startTaskWorkflow(startDeps, stored);
        await clearStartPending(db, taskId);
      } catch (err) {
        if (!isTemporalUnavailable(err)) throw err;
        // The task is stored and marked (again: a reconciler pass may have cleared the mark before the
        // task was written); it starts once Temporal answers.
        await markStartPending(db, taskId);
      }
      return { task: stored, created };
    },

    async pause(taskId: string) {
      const task = await requireActive(taskId);
      await requireWorkflow(task);
      await signalTask(task, (h) => h.signal(pauseTask));
      return task;
    },
    async resume(taskId: string) {
      const task = await requireActive(taskId);
      await requireWorkflow(task);
      await signalTask(task, (h) => h.signal(resumeTask));
      return task;
    },
    async cancel(taskId: string) {
      const task = await requireActive(taskId);
      await requireWorkflow(task);
      await signalTask(task, (h) => h.signal(cancelTask, { reason: 'cancelled by an operator' }));
      return task;
    },

    /** Failed devices (all, or the named ones) wait to be pushed again. */
    async retry(taskId: string, deviceKeys?: string[]): Promise<number> {
      const task = await requireActive(taskId);
      // Checked first, so that a refusal (Temporal down, no workflow) changes no record.
      await requireWorkflow(task);
      const failed = await recordsCollection(db)
        .find({
          taskId,
          status: 'failure',
          inWorkflow: false,
          ...(deviceKeys ? { deviceKey: { $in: deviceKeys } } : {}),
        })
        .project<{ deviceKey: string }>({ deviceKey: 1 })
        .toArray();
      // One registry query for all of them: FerretDB reads the whole collection per query.
      const online = new Set(
        (
          await devices(db)
            .find(
              { productKey: task.productKey, deviceKey: { $in: failed.map((r) => r.deviceKey) }, online: true },
              { projection: { deviceKey: 1 } },
            )
            .toArray()
        ).map((d) => d.deviceKey),
      );
      // Two conditional updates (online, offline) rather than one per device: FerretDB reads the whole
      // collection for each, and a task can have thousands of failures.
      let retried = 0;
      const now = new Date();
      const keys = failed.map((r) => r.deviceKey);
      for (const deviceOnline of [true, false]) {
        const these = keys.filter((k) => online.has(k) === deviceOnline);
        if (these.length === 0) continue;
        const res = await recordsCollection(db).updateMany(
          { taskId, status: 'failure', inWorkflow: false, deviceKey: { $in: these } },
          {
            $set: {
              status: 'to_be_pushed',
              waitReason: null,
              failure: null,
              progress: 0,
              deviceOnline,
              updatedAt: now,
            },
            $push: appendTimeline(timelineEntry('retry requested', 'by an operator', now)),
          },
        );
        retried += res.modifiedCount;
      }
      if (retried > 0) await signalTask(task, (h) => h.signal(devicesReady));
      return retried;
    },

    /** Cancels one device that is waiting or only pushed; 409 once it is upgrading or finished. */
    async cancelDevice(taskId: string, deviceKey: string) {
      const task = await requireTask(taskId);
      const rec = await recordsCollection(db).findOne({ _id: recordId(taskId, deviceKey) });
      if (!rec) throw notFound(`device ${deviceKey} is not part of upgrade task ${taskId}`);
      if (rec.status !== 'to_be_pushed' && rec.status !== 'pushed') {
        throw conflict(`device ${deviceKey} cannot be cancelled: its upgrade is ${rec.status}`);
      }
      const now = new Date();
      const direct = await recordsCollection(db).updateOne(
        { _id: recordId(taskId, deviceKey), status: 'to_be_pushed', inWorkflow: false },
        {
          $set: { status: 'cancelled', waitReason: null, updatedAt: now },
          $push: appendTimeline(timelineEntry('cancelled', 'by an operator', now)),
        },
      );
      if (direct.modifiedCount === 0) {
        const handle = client.workflow.getHandle(deviceWorkflowId({ productKey: task.productKey, deviceKey }));
        const told = await withTemporal(client, () =>
          signalIfRunning(handle, cancelDeviceUpgrade, { reason: 'cancelled by an operator', taskId }),
        );
        if (!told) throw conflict(`device ${deviceKey} has no upgrade in progress to cancel; read its record again`);
      }
      return task;
    },
  };
}

export type TaskService = ReturnType<typeof createTaskService>;
