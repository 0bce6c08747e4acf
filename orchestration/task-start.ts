/**
 * Starting a task's workflow, once. The workflow id is the task id, and the
 * start is made with policies that make every later start of the same task a
 * no-op, whoever makes it (a retried create with the same Idempotency-Key,
 * the reconciler, an operator call on a task caught mid-creation):
 * - workflowIdConflictPolicy FAIL: while the task runs, a second start fails
 *   (WorkflowExecutionAlreadyStartedError) instead of joining or replacing it;
 * - workflowIdReusePolicy REJECT_DUPLICATE: once it has closed (completed,
 *   cancelled, even terminated), a second start fails too. Temporal's default
 *   (ALLOW_DUPLICATE) would start a fresh run of a cancelled task.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import type { TaskDoc } from '../db/tasks';
import { describeSchedule } from '../domain/schedule';
import type { upgradeTaskWorkflow } from '../workflows/upgrade-task';
import { OtaFirmwareVersion, OtaProductKey, OtaStatus, OtaTaskId } from '../workflows/search-attributes';

export interface TaskStartDeps {
  client: Client;
  taskQueue: string;
  /** Continue-as-new threshold for task workflows; tests lower it to exercise continue-as-new. */
  historyBudget?: number;
}

/** How long one start may wait for Temporal before the caller reports it unavailable. */
export const START_DEADLINE_MS = 10_000;

/** 'started' by this call, or 'existed' (running or closed): either way the task has had its one run. */
export async function startTaskWorkflow(deps: TaskStartDeps, task: TaskDoc): Promise<'started' | 'existed'> {
  const { client, taskQueue } = deps;
  try {
    await client.withDeadline(Date.now() + START_DEADLINE_MS, () =>
      client.workflow.start<typeof upgradeTaskWorkflow>('upgradeTaskWorkflow', {
        workflowId: task.workflowId,
        taskQueue,
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        args: [
          {
            taskId: task.taskId,
            productKey: task.productKey,
            firmwareId: task.firmwareId,
            firmware: task.firmware,
            kind: task.kind,
            strategy: task.strategy,
            method: task.method,
            sourceVersions: task.sourceVersions,
            scope: task.scope,
            ...(task.filter ? { filter: task.filter } : {}),
            createdAtMs: task.createdAt.getTime(),
            ...(task.schedule ? { schedule: task.schedule } : {}),
            maxConcurrency: task.maxConcurrency,
            upgradeTimeoutS: task.upgradeTimeout,
            ...(task.retry ? { retry: task.retry } : {}),
            ...(task.soakMinutes ? { soakMinutes: task.soakMinutes } : {}),
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
      }),
    );
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'existed';
    throw err;
  }
}
