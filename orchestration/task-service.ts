/**
 * Creating and steering tasks, for the API: write the task first, then start
 * its workflow with the task id as workflow id (a retried request with the
 * same Idempotency-Key finds the task and, if the first try died before
 * starting it, starts the workflow then); control calls become signals.
 */
import * as crypto from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import type { Db } from 'mongodb';
import { isDuplicateKey } from '../db/mongo';
import { recordId, recordsCollection } from '../db/records';
import { findTask, tasksCollection, type TaskDoc } from '../db/tasks';
import { conflict, notFound } from '../domain/errors';
import { deviceWorkflowId, taskWorkflowId } from '../domain/ids';
import { describeSchedule } from '../domain/schedule';
import { toOffer, type Firmware, type UpgradeTaskRequest } from '../domain/types';
import type { upgradeTaskWorkflow } from '../workflows/upgrade-task';
import {
  cancelDevice,
  cancelDeviceUpgrade,
  cancelTask,
  pauseTask,
  resumeTask,
  retryDevices,
} from '../workflows/messages';
import { OtaFirmwareVersion, OtaProductKey, OtaStatus, OtaTaskId } from '../workflows/search-attributes';

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

  const startWorkflow = async (task: TaskDoc) => {
    try {
      await client.workflow.start<typeof upgradeTaskWorkflow>('upgradeTaskWorkflow', {
        workflowId: task.workflowId,
        taskQueue,
        args: [
          {
            taskId: task.taskId,
            productKey: task.productKey,
            firmwareId: task.firmwareId,
            kind: task.kind,
            strategy: task.strategy,
            method: task.method,
            ...(task.schedule ? { schedule: task.schedule } : {}),
            maxConcurrency: task.maxConcurrency,
            ...(task.endTime ? { endsAtMs: Date.parse(task.endTime) } : {}),
            ...(task.autoPause ? { autoPause: task.autoPause } : {}),
            ...(task.rateLimit ? { rateLimit: task.rateLimit } : {}),
            ...(task.firstStage ? { firstStage: task.firstStage } : {}),
            ...(deps.historyBudget ? { historyBudget: deps.historyBudget } : {}),
          },
        ],
        typedSearchAttributes: [
          { key: OtaTaskId, value: task.taskId },
          { key: OtaProductKey, value: task.productKey },
          { key: OtaFirmwareVersion, value: task.firmware.version },
          { key: OtaStatus, value: task.status },
        ],
        staticSummary: `${task.kind === 'verification' ? 'Verify' : 'Upgrade'} ${task.productKey} to ${task.firmware.version}: ${task.strategy}, ${task.method}, ${task.scope}`,
        staticDetails: [
          `**${task.name}**`,
          `Firmware ${task.firmware.version} (${task.firmwareId}) for product ${task.productKey}; source versions ${task.sourceVersions.join(', ')}.`,
          `Strategy ${task.strategy}, method ${task.method}, scope ${task.scope}; window ${describeSchedule(task.schedule)}; at most ${task.maxConcurrency} devices at once; timeout ${task.upgradeTimeout} s${task.endTime ? `; ends ${task.endTime}` : ''}.`,
          `Device workflows of this task: filter \`OtaTaskId="${task.taskId}"\`.`,
        ].join('\n\n'),
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  };

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
    await send(client.workflow.getHandle(taskWorkflowId(task.taskId)));
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
      let created = true;
      try {
        await tasksCollection(db).insertOne({ ...task });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        created = false;
      }
      const stored = (await findTask(db, taskId)) as TaskDoc;
      await startWorkflow(stored);
      return { task: stored, created };
    },

    async pause(taskId: string) {
      const task = await requireActive(taskId);
      await signalTask(task, (h) => h.signal(pauseTask));
      return task;
    },
    async resume(taskId: string) {
      const task = await requireActive(taskId);
      await signalTask(task, (h) => h.signal(resumeTask));
      return task;
    },
    async cancel(taskId: string) {
      const task = await requireActive(taskId);
      await signalTask(task, (h) => h.signal(cancelTask, { reason: 'cancelled by an operator' }));
      return task;
    },

    /** Failed devices (all, or the named ones) wait to be pushed again; the task's workflow writes them. */
    async retry(taskId: string, deviceKeys?: string[]): Promise<number> {
      const task = await requireActive(taskId);
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
        await whileTaskRuns(task, (h) => h.executeUpdate(cancelDevice, { args: [{ deviceKey, reason }] }));
        return task;
      }
      // The device's own workflow owns the record (it may outlive a finished task): it decides.
      await client.workflow
        .getHandle(deviceWorkflowId({ productKey: task.productKey, deviceKey }))
        .signal(cancelDeviceUpgrade, { reason, taskId })
        .catch(() => undefined);
      return task;
    },
  };

  /** An update to the task's workflow; a workflow that has closed meanwhile is a conflict, as a closed task is. */
  async function whileTaskRuns<T>(task: TaskDoc, send: (h: WorkflowHandle) => Promise<T>): Promise<T> {
    try {
      return await send(client.workflow.getHandle(taskWorkflowId(task.taskId)));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw conflict(`upgrade task ${task.taskId} has finished`);
      throw err;
    }
  }
}

export type TaskService = ReturnType<typeof createTaskService>;
