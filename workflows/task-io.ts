/**
 * The task workflow's side effects: its activities (activities/contracts.ts)
 * and the status it shows, in the database and in the Web UI.
 */
import * as wf from '@temporalio/workflow';
import type { TaskActivities } from '../activities/contracts';
import type { AdmissionSettings, DeviceStartSettings } from '../domain/rollout';
import { describeSchedule } from '../domain/schedule';
import type { TaskStatus } from '../domain/types';
import { OtaStatus } from './search-attributes';
import type { TaskState } from './task-state';
import type { TaskWorkflowInput } from './upgrade-task';

export const acts = wf.proxyActivities<TaskActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/** The settings the admission activities act on. */
export function admissionSettings(input: TaskWorkflowInput): AdmissionSettings {
  const { taskId, productKey, strategy, sourceVersions, scope, filter } = input;
  return {
    taskId,
    productKey,
    strategy,
    toVersion: input.firmware.version,
    scope: { productKey, sourceVersions, scope, ...(filter ? { filter } : {}) },
  };
}

/** What the task's device workflows start with (all but the device). */
export function deviceStartSettings(input: TaskWorkflowInput): DeviceStartSettings {
  const { taskId, kind, strategy, productKey, firmwareId, firmware, method, schedule, retry } = input;
  return {
    taskId,
    kind,
    strategy,
    productKey,
    firmwareId,
    firmware,
    method,
    upgradeTimeout: input.upgradeTimeoutS,
    ...(schedule ? { schedule } : {}),
    ...(retry ? { retry } : {}),
    maxConcurrency: input.maxConcurrency,
    ...(input.soakMinutes ? { soakMinutes: input.soakMinutes } : {}),
  };
}

export async function setStatus(s: TaskState, input: TaskWorkflowInput, status: TaskStatus): Promise<void> {
  if (s.status === status && s.statusWritten) return;
  s.status = status;
  s.statusWritten = true;
  wf.upsertSearchAttributes([{ key: OtaStatus, value: status }]);
  wf.setCurrentDetails(
    [
      `**Task** ${input.taskId} (${input.kind}: ${input.strategy}, ${input.method})`,
      `**Status** ${status}${s.cancelReason ? ` (${s.cancelReason})` : status === 'paused' && s.pauseReason ? ` (${s.pauseReason})` : ''}`,
      `**Window** ${describeSchedule(input.schedule)}`,
      `**Devices** ${s.inFlight.size} in flight of at most ${input.maxConcurrency}; ${s.finished} finished`,
      `**Run** ${s.runs} (continues-as-new with a cursor; device records live in MongoDB)`,
    ].join('\n\n'),
  );
  const reason = status === 'paused' && s.pauseReason ? { reason: s.pauseReason } : {};
  await s.writeTask(() => acts.setTaskStatus({ taskId: input.taskId, status, ...reason }));
}
