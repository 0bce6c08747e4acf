/**
 * Upgrade task workflow (id = task id): one batch upgrade or verification.
 *
 * The story: fix the device list (snapshot) or admit the devices that match
 * now (increment); then, whenever a schedule window is open and the task is
 * not paused, start device upgrade workflows for waiting devices that are
 * online, never more than maxConcurrency at once (a pause reaches the device
 * workflows already started too); admit devices that qualify
 * later (increment); finish when every record is final (snapshot), at the
 * end time (increment), or when cancelled. It continues-as-new long before history limits, carrying only a
 * cursor, counters and the devices in flight.
 */
import * as wf from '@temporalio/workflow';
import type { TaskActivities } from '../activities/contracts';
import type { AutoPausePolicy } from '../domain/auto-pause';
import { burstOf, rateNow, readyAtMs, refill, type Bucket, type RateLimit } from '../domain/rate-limit';
import { firstStageSize, judgeFirstStage, type FirstStage } from '../domain/stages';
import { describeSchedule, windowState } from '../domain/schedule';
import type { Method, Schedule, Strategy, TaskKind, TaskStatus } from '../domain/types';
import { cancelDevice, retryDevices } from './messages';
import { OtaStatus } from './search-attributes';
import { TaskState, type CarriedTaskState } from './task-state';
import { waitFor } from './wait';

const acts = wf.proxyActivities<TaskActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * The task's settings that the workflow and its activities act on, fixed at creation; the
 * activities that scan the registry or start device workflows read the rest from the task.
 */
export interface TaskWorkflowInput {
  taskId: string;
  productKey: string;
  firmwareId: string;
  kind: TaskKind;
  strategy: Strategy;
  method: Method;
  schedule?: Schedule;
  maxConcurrency: number;
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

/** Batching: claim devices once a quarter of the slots are free, or after a short pause. */
const CLAIM_DEBOUNCE_MS = 2000;
/** How often a push task with nothing to do checks its waiting devices against the registry. */
const RECHECK_MS = 5 * 60_000;

export async function upgradeTaskWorkflow(input: TaskWorkflowInput): Promise<TaskOutcome> {
  const s = new TaskState(input.taskId, input.carried, input.autoPause);
  const pushes = input.method === 'push';
  const closes = input.strategy === 'snapshot';
  handleOperatorRecordChanges(s, input);

  if (!s.prepared) {
    const prepared = await acts.prepareTask({ taskId: input.taskId });
    s.cursorMs = prepared.cursorMs;
    s.prepared = true;
    if (input.firstStage) {
      s.stage = {
        size: firstStageSize(input.firstStage, prepared.admitted),
        finished: 0,
        succeeded: 0,
        phase: 'first',
      };
      await acts.setTaskStagePhase({ taskId: input.taskId, phase: 'first' });
    }
    s.rescanWanted = false;
  }

  while (!s.cancelled) {
    if (endTimeReached(input)) return endAtEndTime(s, input);
    if (timeToContinueAsNew(input)) {
      await wf.condition(wf.allHandlersFinished);
      return wf.continueAsNew<typeof upgradeTaskWorkflow>({ ...input, carried: s.carry() });
    }
    if (input.strategy === 'increment' && s.rescanWanted) {
      s.rescanWanted = false;
      const admitted = await acts.admitNewDevices({ taskId: input.taskId, sinceMs: s.cursorMs });
      s.cursorMs = admitted.cursorMs;
      if (admitted.admitted > 0) s.mayHavePushable = true;
      continue;
    }
    if (input.strategy === 'increment' && s.reported.length > 0) {
      const devices = s.reported.splice(0, s.reported.length);
      const { admitted } = await acts.admitReported({ taskId: input.taskId, devices });
      if (admitted > 0) s.mayHavePushable = true;
      continue;
    }
    const window = windowState(input.schedule, Date.now());
    await setStatus(s, input, s.paused ? 'paused' : window.open || !pushes ? 'running' : 'waiting');
    if (s.devicesPaused !== s.paused) {
      // Devices already started would otherwise push again on reconnect or retry while paused.
      s.devicesPaused = s.paused;
      await acts.tellDevicesPaused({
        taskId: input.taskId,
        productKey: input.productKey,
        paused: s.paused,
        ...(pushes ? { deviceKeys: [...s.inFlight] } : {}),
      });
      continue;
    }

    const allowance = startAllowance(s, input);
    if (pushes && window.open && !s.paused && s.mayHavePushable && allowance.limit > 0 && allowance.worth) {
      s.mayHavePushable = false; // a devicesReady signal during the call sets it again
      s.claiming = true;
      s.claimDue = false;
      const result = await acts.startPushableDevices({ taskId: input.taskId, limit: allowance.limit });
      if (allowance.bucket) s.bucket = { ...allowance.bucket, tokens: allowance.bucket.tokens - result.started.length };
      for (const deviceKey of result.started) if (!s.finishedEarly.has(deviceKey)) s.inFlight.add(deviceKey);
      s.finishedEarly.clear();
      s.claiming = false;
      s.finished += result.skipped;
      if (!result.exhausted) s.mayHavePushable = true;
      if (result.skipped > 0) s.completionCheckWanted = true;
      continue;
    }

    if (closes && s.completionCheckWanted && s.inFlight.size === 0) {
      s.completionCheckWanted = false;
      // An operator's retry under way may reopen records: count after it.
      await wf.condition(wf.allHandlersFinished);
      if ((await acts.countOpenRecords({ taskId: input.taskId })) === 0) return complete(s, input);
      continue;
    }

    if (s.stage && input.firstStage && stageMoves(s)) {
      await moveStage(s, input, input.firstStage);
      continue;
    }

    await waitForChange(s, input, {
      windowOpen: window.open,
      windowEdgeMs: window.open ? window.closesAtMs : window.opensAtMs,
      batching: !input.rateLimit && allowance.limit > 0 && !allowance.worth,
      rateReadyAtMs: allowance.readyAtMs,
    });
  }

  await acts.cancelTaskDevices({
    taskId: input.taskId,
    productKey: input.productKey,
    reason: s.cancelReason ?? 'cancelled',
  });
  await setStatus(s, input, 'cancelled');
  return 'cancelled';
}

/**
 * The operator's changes to this task's records (retry, cancel one device) are made by this
 * workflow's activities, like every other write of a record that no device workflow owns.
 */
function handleOperatorRecordChanges(s: TaskState, input: TaskWorkflowInput): void {
  wf.setHandler(retryDevices, async ({ deviceKeys }) => {
    const retried = await acts.requeueFailed({ taskId: input.taskId, ...(deviceKeys ? { deviceKeys } : {}) });
    if (retried > 0) s.mayHavePushable = true;
    return retried;
  });
  wf.setHandler(cancelDevice, async ({ deviceKey, reason }) => {
    const result = await acts.cancelOneDevice({
      taskId: input.taskId,
      productKey: input.productKey,
      deviceKey,
      reason,
    });
    if (result === 'cancelled') s.completionCheckWanted = true;
    return result;
  });
}

/**
 * Sleeps until a signal changes something, the window opens or closes, or a
 * small claim batch is due (then `claimDue` lets the loop claim it). Every wake-up condition must be one the loop acts
 * on, or the loop would spin without yielding to the timer.
 */
async function waitForChange(
  s: TaskState,
  input: TaskWorkflowInput,
  at: { windowOpen: boolean; windowEdgeMs: number | null; batching: boolean; rateReadyAtMs: number | null },
) {
  const { windowEdgeMs, batching } = at;
  const pushes = input.method === 'push' && at.windowOpen;
  // A push task waiting on devices looks again now and then: a device whose "online" reached the
  // registry only after its record was written has no reconnect to announce it (see reconcileOffline).
  const recheckAt = pushes && !s.mayHavePushable ? Date.now() + RECHECK_MS : Infinity;
  const batchDueAt = batching && s.mayHavePushable ? Date.now() + CLAIM_DEBOUNCE_MS : Infinity;
  // Slots freed while none were: wake to start the batching pause (a rate-limited task has its own timer).
  const wakeForBatch = !input.rateLimit && !batching;
  const wakeAt = Math.min(
    windowEdgeMs ?? Infinity,
    input.endsAtMs ?? Infinity,
    s.stage?.phase === 'awaiting_approval' ? (s.stage.deadlineMs ?? Infinity) : Infinity,
    batchDueAt,
    pushes && !s.paused && s.mayHavePushable ? (at.rateReadyAtMs ?? Infinity) : Infinity,
    recheckAt,
  );
  // A ramp that speeds up moves the next start closer: wake to set the timer again.
  const rateNowOf = () => (input.rateLimit ? rateNow(input.rateLimit, s.succeeded) : 0);
  const rateAtStart = rateNowOf();
  const changed = await waitFor(
    () =>
      s.cancelled ||
      rateNowOf() !== rateAtStart ||
      (s.stage !== undefined && stageMoves(s)) ||
      (input.strategy === 'increment' && (s.rescanWanted || s.reported.length > 0)) ||
      (s.completionCheckWanted && s.inFlight.size === 0 && input.strategy === 'snapshot') ||
      (pushes && !s.paused && s.mayHavePushable && startAllowance(s, input).worth) ||
      (wakeForBatch && pushes && !s.paused && s.mayHavePushable && startAllowance(s, input).limit > 0) ||
      s.paused !== (s.status === 'paused') ||
      timeToContinueAsNew(input),
    wakeAt,
  );
  if (!changed && Date.now() >= recheckAt) s.mayHavePushable = true;
  // The short pause is over: claim the few free slots.
  if (!changed && Date.now() >= batchDueAt) s.claimDue = true;
}

/**
 * How many devices may start now, and whether that is worth a claim: a batch,
 * not a trickle. Without a rate limit that is a quarter of the slots free (or
 * none in flight); with one, a full burst saved up in the bucket (`readyAtMs`
 * says when). Pure: the bucket is stored only when a claim spends from it.
 */
function startAllowance(
  s: TaskState,
  input: TaskWorkflowInput,
): { limit: number; worth: boolean; readyAtMs: number | null; bucket?: Bucket } {
  // A first stage starts no more devices than it has room for; none while awaiting approval.
  const stageRoom =
    s.stage === undefined || s.stage.phase === 'rest' ? Infinity : s.stage.size - s.stage.finished - s.inFlight.size;
  if (stageRoom <= 0 || s.stage?.phase === 'awaiting_approval') return { limit: 0, worth: false, readyAtMs: null };
  const free = Math.min(input.maxConcurrency - s.inFlight.size, stageRoom);
  if (!input.rateLimit) {
    const worth =
      free >= Math.max(1, Math.floor(input.maxConcurrency / 4)) ||
      s.inFlight.size === 0 ||
      s.claimDue ||
      // A first stage is small: start what it has room for.
      stageRoom < Infinity;
    return { limit: free, worth, readyAtMs: null };
  }
  const perMinute = rateNow(input.rateLimit, s.succeeded);
  const bucket = refill(s.bucket, perMinute, Date.now());
  const want = Math.min(free, burstOf(perMinute));
  const limit = Math.min(free, Math.floor(bucket.tokens));
  return {
    limit,
    worth: want > 0 && limit >= want,
    readyAtMs: want > 0 ? readyAtMs(bucket, perMinute, want) : null,
    bucket,
  };
}

/**
 * The first stage is over (every one of its devices finished), or an awaited
 * approval came (a resume) or ran out of time.
 */
function stageMoves(s: TaskState): boolean {
  const stage = s.stage;
  if (!stage) return false;
  if (stage.phase === 'first') return stage.finished >= stage.size && s.inFlight.size === 0;
  if (stage.phase === 'awaiting_approval') return !s.paused || Date.now() >= (stage.deadlineMs ?? Infinity);
  return false;
}

async function moveStage(s: TaskState, input: TaskWorkflowInput, firstStage: FirstStage): Promise<void> {
  const stage = s.stage!;
  if (stage.phase === 'awaiting_approval') {
    if (s.paused) {
      s.cancelReason ??= `the first stage was not approved by ${new Date(stage.deadlineMs ?? 0).toISOString()}`;
      return;
    }
    stage.phase = 'rest';
  } else {
    const verdict = judgeFirstStage(firstStage, stage, Date.now());
    if (verdict.kind === 'await_approval') {
      stage.phase = 'awaiting_approval';
      stage.deadlineMs = verdict.deadlineMs;
      s.pauseFor(verdict.reason);
    } else {
      // Below the threshold the task pauses; a resume goes on with the rest anyway.
      stage.phase = 'rest';
      if (verdict.kind === 'pause') s.pauseFor(verdict.reason);
    }
  }
  s.mayHavePushable = true;
  await acts.setTaskStagePhase({ taskId: input.taskId, phase: stage.phase });
}

function endTimeReached(input: TaskWorkflowInput): boolean {
  return input.endsAtMs !== undefined && Date.now() >= input.endsAtMs;
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

function timeToContinueAsNew(input: TaskWorkflowInput): boolean {
  const info = wf.workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > (input.historyBudget ?? 3000);
}

async function setStatus(s: TaskState, input: TaskWorkflowInput, status: TaskStatus): Promise<void> {
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
  await acts.setTaskStatus({
    taskId: input.taskId,
    status,
    ...(status === 'paused' && s.pauseReason ? { reason: s.pauseReason } : {}),
  });
}
