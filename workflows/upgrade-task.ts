/**
 * Upgrade task workflow (id = task id): one batch upgrade or verification.
 *
 * After preparing the device list (snapshot: the devices that match now, and
 * only those; increment: the devices that match now, more later), small loops
 * run side by side, one per concern, each waiting on its own condition:
 * - admission (increment): rescans and devices the gateway saw report a source version;
 * - dispatch (push): starts device workflows for waiting online devices inside the
 *   windows, within maxConcurrency, the rate limit and the first stage;
 * - status: the task's status, and telling started devices of a pause or resume;
 * - first stage: judging it when it is over, and the operator's approval;
 * - completion (snapshot): finished when no record is open.
 * The body waits for the end (cancelled, completed, end time, or time to
 * continue-as-new), stops the loops and finishes. Signal handlers only record
 * what arrived (task-state.ts); the two operator updates (retry, cancel one
 * device) run their one activity and answer with its result, are turned away
 * once the run is ending, and the run ends only after they have finished
 * (allHandlersFinished). Behaviour: docs/behaviour.md.
 */
import * as wf from '@temporalio/workflow';
import type { AutoPausePolicy } from '../domain/auto-pause';
import type { RateLimit } from '../domain/rate-limit';
import { firstStageSize, type FirstStage } from '../domain/stages';
import type { Filter, FirmwareOffer, Method, RetryPolicy, Schedule, Scope, Strategy, TaskKind } from '../domain/types';
import { cancelDevice, retryDevices } from './messages';
import { acts, admissionSettings, setStatus } from './task-io';
import { admission, dispatch, judgeStage, keepStatus, watchCompletion } from './task-loops';
import { TaskState, type CarriedTaskState } from './task-state';
import { waitFor } from './wait';

/**
 * The task's settings, fixed at creation: everything the workflow and its activities act on
 * (the activities get their part as arguments and never read the task document).
 */
export interface TaskWorkflowInput {
  taskId: string;
  productKey: string;
  firmwareId: string;
  /** The firmware as devices receive it. */
  firmware: FirmwareOffer;
  kind: TaskKind;
  strategy: Strategy;
  method: Method;
  /** Which devices the task is for (domain/scope.ts). */
  sourceVersions: string[];
  scope: Scope;
  filter?: Filter;
  /** A snapshot task holds the devices registered until then. */
  createdAtMs: number;
  schedule?: Schedule;
  maxConcurrency: number;
  /** Seconds a device has for its upgrade, from the push. */
  upgradeTimeoutS: number;
  retry?: RetryPolicy;
  soakMinutes?: number;
  /** Increment tasks with an end time: when the task stops and completes. */
  endsAtMs?: number;
  /** Pause when too many devices fail (domain/auto-pause.ts). */
  autoPause?: AutoPausePolicy;
  /** Start at most so many devices per minute, optionally ramping up (domain/rate-limit.ts). */
  rateLimit?: RateLimit;
  /** Upgrade a first stage, then the rest once it went well (domain/stages.ts). */
  firstStage?: FirstStage;
  /** Continue-as-new after this many history events (the server suggests it at ~4k anyway). */
  historyBudget?: number;
  carried?: CarriedTaskState;
}

export type TaskOutcome = 'completed' | 'cancelled';

/** Finishes one run counts before it continues as new (their keys, ~30 bytes each, are carried). */
const MAX_COUNTED_PER_RUN = 10_000;

export async function upgradeTaskWorkflow(input: TaskWorkflowInput): Promise<TaskOutcome> {
  const s = new TaskState(input.taskId, input.carried, input.autoPause);
  handleOperatorRecordChanges(s, input);
  if (!s.prepared) await prepare(s, input);

  const loops = [
    input.strategy === 'increment' ? admission(s, input) : null,
    input.method === 'push' ? dispatch(s, input) : null,
    keepStatus(s, input),
    input.firstStage ? judgeStage(s, input, input.firstStage) : null,
    input.strategy === 'snapshot' ? watchCompletion(s, input) : null,
  ];
  const beforeEndTime = await waitFor(
    () => s.cancelled || s.completed || timeToContinueAsNew(s, input),
    input.endsAtMs,
  );
  s.stopping = true;
  // Ending the task, not continuing as new: from now on an operator's change is turned away.
  s.closing = s.cancelled || s.completed || !beforeEndTime;
  await Promise.all(loops);
  // An operator's retry or cancel under way finishes first: a cancel after it closes what it requeued.
  await wf.condition(wf.allHandlersFinished);

  if (s.cancelled) return cancel(s, input);
  if (!beforeEndTime) return endAtEndTime(s, input);
  if (s.completed) return complete(s, input);
  return wf.continueAsNew<typeof upgradeTaskWorkflow>({ ...input, carried: s.carry() });
}

async function prepare(s: TaskState, input: TaskWorkflowInput): Promise<void> {
  const prepared = await acts.prepareTask({ task: admissionSettings(input), createdAtMs: input.createdAtMs });
  s.cursorMs = prepared.cursorMs;
  s.prepared = true;
  if (input.firstStage) {
    s.stage = { size: firstStageSize(input.firstStage, prepared.admitted), finished: 0, succeeded: 0, phase: 'first' };
    await acts.setTaskStagePhase({ taskId: input.taskId, phase: 'first' });
  }
  s.rescanWanted = false;
}

/**
 * The operator's changes to this task's records (retry, cancel one device) are made by this
 * workflow's activities, like every other write of a record that no device workflow owns. The
 * handler runs the one activity itself: its result is the answer, as in Temporal's
 * safe-message-handlers sample. A validator turns away a change once the task is ending
 * (nothing of it enters history); continuing as new waits for it instead, as every end of a
 * run waits for the handlers in flight.
 */
function handleOperatorRecordChanges(s: TaskState, input: TaskWorkflowInput): void {
  const validator = (_change: unknown): void => {
    if (s.closing || s.cancelled) throw new Error(`upgrade task ${input.taskId} is ending`);
  };
  wf.setHandler(
    retryDevices,
    async ({ deviceKeys }) => {
      s.operatorChanges += 1;
      const retried = await acts.requeueFailed({ taskId: input.taskId, ...(deviceKeys ? { deviceKeys } : {}) });
      if (retried > 0) s.mayHaveAnyPushable();
      return retried;
    },
    { validator },
  );
  wf.setHandler(
    cancelDevice,
    async ({ deviceKey, reason }) => {
      s.operatorChanges += 1;
      const result = await acts.cancelOneDevice({
        taskId: input.taskId,
        productKey: input.productKey,
        deviceKey,
        reason,
      });
      if (result === 'cancelled') s.closedRecords += 1;
      return result;
    },
    { validator },
  );
}

async function cancel(s: TaskState, input: TaskWorkflowInput): Promise<TaskOutcome> {
  await acts.cancelTaskDevices({
    taskId: input.taskId,
    productKey: input.productKey,
    reason: s.cancelReason ?? 'cancelled',
  });
  await setStatus(s, input, 'cancelled');
  return 'cancelled';
}

/** Nothing joins or is pushed after the end time; upgrades already under way on a device finish. */
async function endAtEndTime(s: TaskState, input: TaskWorkflowInput): Promise<TaskOutcome> {
  await acts.cancelTaskDevices({
    taskId: input.taskId,
    productKey: input.productKey,
    reason: `the task reached its end time ${new Date(input.endsAtMs ?? 0).toISOString()}`,
  });
  return complete(s, input);
}

async function complete(s: TaskState, input: TaskWorkflowInput): Promise<TaskOutcome> {
  if (input.kind === 'verification') {
    await acts.concludeVerification({ taskId: input.taskId, firmwareId: input.firmwareId });
  }
  await setStatus(s, input, 'completed');
  return 'completed';
}

/**
 * The server's hint, the history budget, or enough finishes counted: their keys go into the
 * next run's input, which they must not swell (one signal may carry hundreds of them).
 */
function timeToContinueAsNew(s: TaskState, input: TaskWorkflowInput): boolean {
  const info = wf.workflowInfo();
  return (
    info.continueAsNewSuggested ||
    info.historyLength > (input.historyBudget ?? 3000) ||
    s.countedThisRun >= MAX_COUNTED_PER_RUN
  );
}
