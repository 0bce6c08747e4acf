/**
 * Creating and steering tasks, for the API: mark the task's start pending,
 * write the task, then start its workflow with the task id as workflow id
 * (task-start.ts: at most one run per task, ever). A retried request with the
 * same Idempotency-Key finds the task; a start Temporal could not take is
 * left to the reconciler. Control calls check the workflow first, so an
 * outage (503) or a missing workflow (409) is refused before anything changes.
 */
import * as crypto from 'node:crypto';
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import type { Db } from 'mongodb';
import { isDuplicateKey } from '../db/mongo';
import { recordId, recordsCollection } from '../db/records';
import { clearStartPending, isStartPending, markStartPending } from '../db/pending-task-starts';
import { findTask, tasksCollection, type TaskDoc } from '../db/tasks';
import { conflict, notFound, OtaError } from '../domain/errors';
import { deviceWorkflowId, taskWorkflowId } from '../domain/ids';
import { toOffer, type Firmware, type UpgradeTaskRequest } from '../domain/types';
import { isTemporalUnavailable } from '../runtime/unavailable';
import {
  cancelDevice,
  cancelDeviceUpgrade,
  cancelTask,
  pauseTask,
  resumeTask,
  retryDevices,
} from '../workflows/messages';
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

    /** Failed devices (all, or the named ones) wait to be pushed again; the task's workflow writes them. */
    async retry(taskId: string, deviceKeys?: string[]): Promise<number> {
      const task = await requireActive(taskId);
      await requireWorkflow(task);
      return whileTaskRuns(task, (h) => h.executeUpdate(retryDevices, { args: [deviceKeys ? { deviceKeys } : {}] }));
    },

    /** Cancels one device that is waiting or only pushed; 409 once it is upgrading or finished. */
    async cancelDevice(taskId: string, deviceKey: string) {
      const task = await requireTask(taskId);
      const rec = await recordsCollection(db).findOne({ _id: recordId(taskId, deviceKey) });
      if (!rec) throw notFound(`device ${deviceKey} is not part of upgrade task ${taskId}`);
      if (rec.status !== 'to_be_pushed' && rec.status !== 'pushed') {
        throw conflict(`device ${deviceKey} cannot be cancelled: its upgrade is ${rec.status}`);
      }
      const reason = 'cancelled by an operator';
      if (!rec.inWorkflow) {
        await requireWorkflow(task);
        await whileTaskRuns(task, (h) => h.executeUpdate(cancelDevice, { args: [{ deviceKey, reason }] }));
        return task;
      }
      // The device's own workflow owns the record (it may outlive a finished task): it decides.
      const handle = client.workflow.getHandle(deviceWorkflowId({ productKey: task.productKey, deviceKey }));
      const told = await withTemporal(client, () => signalIfRunning(handle, cancelDeviceUpgrade, { reason, taskId }));
      if (!told) throw conflict(`device ${deviceKey} has no upgrade in progress to cancel; read its record again`);
      return task;
    },
  };

  /** An update to the task's workflow; a workflow that has closed meanwhile is a conflict, as a closed task is. */
  async function whileTaskRuns<T>(task: TaskDoc, send: (h: WorkflowHandle) => Promise<T>): Promise<T> {
    return withTemporal(client, async () => {
      try {
        return await send(client.workflow.getHandle(taskWorkflowId(task.taskId)));
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw conflict(`upgrade task ${task.taskId} has finished`);
        // Turned away by the workflow (its run is ending): nothing changed.
        if (err instanceof WorkflowUpdateFailedError) throw conflict(err.cause?.message ?? err.message);
        // Temporal took the update, but no worker answered it in time: the change may still happen.
        if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
          throw new OtaError(
            'unavailable',
            `upgrade task ${task.taskId} did not answer in time (is a worker running?); the change may still take effect`,
          );
        }
        throw err;
      }
    });
  }
}

export type TaskService = ReturnType<typeof createTaskService>;
