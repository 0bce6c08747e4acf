/**
 * The task workflow's loops, one per concern, each waiting on its own
 * condition (upgrade-task.ts runs them side by side until the run ends).
 */
import * as wf from '@temporalio/workflow';
import { burstOf, rateNow, readyAtMs, refill, type Bucket } from '../domain/rate-limit';
import { judgeFirstStage, type FirstStage, type StageState } from '../domain/stages';
import { windowState } from '../domain/schedule';
import { acts, admissionSettings, deviceStartSettings, setStatus } from './task-io';
import type { TaskState } from './task-state';
import type { TaskWorkflowInput } from './upgrade-task';
import { waitFor } from './wait';

/** Batching: claim devices once a quarter of the slots are free, or after a short pause. */
const CLAIM_DEBOUNCE_MS = 2000;
/** How often a push task with nothing to do checks its waiting devices against the registry. */
const RECHECK_MS = 5 * 60_000;
/** Open records with nothing in flight are counted again after this, doubling up to the maximum. */
const RECOUNT_FIRST_MS = 10_000;
const RECOUNT_MAX_MS = 15 * 60_000;

/** Admission (increment tasks): rescans from the cursor, and the devices the gateway saw report. */
export async function admission(s: TaskState, input: TaskWorkflowInput): Promise<void> {
  for (;;) {
    await wf.condition(() => s.stopping || s.rescanWanted || s.reported.length > 0);
    if (s.stopping) return;
    if (s.rescanWanted) {
      s.rescanWanted = false;
      const rescan = await acts.admitNewDevices({ task: admissionSettings(input), sinceMs: s.cursorMs });
      s.cursorMs = rescan.cursorMs;
      if (rescan.admitted > 0) s.mayHaveAnyPushable();
    } else {
      const devices = s.reported.splice(0, s.reported.length);
      const { admitted } = await acts.admitReported({ task: admissionSettings(input), devices });
      if (admitted > 0) s.mayHaveAnyPushable();
    }
  }
}

/**
 * Dispatch (push tasks): whenever a window is open, the task not paused and
 * waiting devices may be online, starts as many as the limits allow — in
 * batches, not a trickle (startAllowance).
 */
export async function dispatch(s: TaskState, input: TaskWorkflowInput): Promise<void> {
  let claimDue = false;
  const rateNowOf = () => (input.rateLimit ? rateNow(input.rateLimit, s.succeeded) : 0);
  for (;;) {
    if (s.stopping) return;
    const window = windowState(input.schedule, Date.now());
    const allowance = startAllowance(s, input, claimDue);
    if (window.open && !s.paused && s.mayHavePushable && allowance.limit > 0 && allowance.worth) {
      claimDue = false;
      await claim(s, input, allowance);
      continue;
    }
    // Fewer than a quarter of the slots free: claim them after a short pause all the same.
    const batching = !input.rateLimit && allowance.limit > 0 && !allowance.worth;
    const open = window.open && !s.paused && s.mayHavePushable;
    // With nothing to do, look again now and then: a device whose "online" reached the registry
    // without a reconnect hint to the task is found so.
    const recheckAt = window.open && !s.mayHavePushable ? Date.now() + RECHECK_MS : Infinity;
    const batchDueAt = batching && s.mayHavePushable ? Date.now() + CLAIM_DEBOUNCE_MS : Infinity;
    const wakeAt = Math.min(
      (window.open ? window.closesAtMs : window.opensAtMs) ?? Infinity,
      batchDueAt,
      open ? (allowance.readyAtMs ?? Infinity) : Infinity,
      recheckAt,
    );
    const paused = s.paused;
    const rate = rateNowOf();
    const changed = await waitFor(() => {
      if (s.stopping || s.paused !== paused || rateNowOf() !== rate) return true;
      if (!window.open || s.paused || !s.mayHavePushable) return false;
      const now = startAllowance(s, input, claimDue);
      // Slots freed while none were: start the batching pause (a rate-limited task has its own timer).
      return now.worth || (!input.rateLimit && !batching && now.limit > 0);
    }, wakeAt);
    if (!changed && Date.now() >= recheckAt) s.mayHaveAnyPushable();
    if (!changed && Date.now() >= batchDueAt) claimDue = true;
  }
}

async function claim(
  s: TaskState,
  input: TaskWorkflowInput,
  allowance: { limit: number; bucket?: Bucket },
): Promise<void> {
  s.mayHavePushable = false; // a devicesReady signal during the call sets it again
  s.claiming = true;
  const resets = s.cursorResets;
  const result = await acts.startPushableDevices({
    device: deviceStartSettings(input),
    limit: allowance.limit,
    ...(s.claimedUpTo !== null ? { after: s.claimedUpTo } : {}),
  });
  if (s.cursorResets === resets) s.claimedUpTo = result.lastKey;
  if (allowance.bucket) s.bucket = { ...allowance.bucket, tokens: allowance.bucket.tokens - result.started.length };
  for (const deviceKey of result.started) if (!s.finishedEarly.has(deviceKey)) s.inFlight.add(deviceKey);
  s.finishedEarly.clear();
  s.claiming = false;
  s.finished += result.skipped;
  if (!result.exhausted) s.mayHavePushable = true;
  if (result.skipped > 0) s.closedRecords += result.skipped;
}

/**
 * How many devices may start now, and whether that is worth a claim: a batch,
 * not a trickle. Without a rate limit that is a quarter of the slots free (or
 * none in flight, or the short pause over: `due`); with one, a full burst
 * saved up in the bucket (`readyAtMs` says when). Pure: the bucket is stored
 * only when a claim spends from it.
 */
function startAllowance(
  s: TaskState,
  input: TaskWorkflowInput,
  due: boolean,
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
      due ||
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
 * Status: waiting (a push task outside its windows), running or paused, kept
 * current as windows open and close and the task is paused or resumed; the
 * device workflows already started hear of a pause too (they hold their pushes).
 */
export async function keepStatus(s: TaskState, input: TaskWorkflowInput): Promise<void> {
  const pushes = input.method === 'push';
  for (;;) {
    if (s.stopping) return;
    const window = windowState(input.schedule, Date.now());
    await setStatus(s, input, s.paused ? 'paused' : window.open || !pushes ? 'running' : 'waiting');
    if (s.devicesPaused !== s.paused) {
      // After a claim under way: the devices it starts are in flight, and hear it too.
      await wf.condition(() => !s.claiming);
      s.devicesPaused = s.paused;
      await acts.tellDevicesPaused({
        taskId: input.taskId,
        productKey: input.productKey,
        paused: s.paused,
        ...(pushes ? { deviceKeys: [...s.inFlight] } : {}),
      });
      continue;
    }
    const paused = s.paused;
    const edge = pushes ? (window.open ? window.closesAtMs : window.opensAtMs) : null;
    await waitFor(() => s.stopping || s.paused !== paused, edge ?? undefined);
  }
}

/** First stage: judged once all of it finished; an awaited approval is a resume before the deadline. */
export async function judgeStage(s: TaskState, input: TaskWorkflowInput, firstStage: FirstStage): Promise<void> {
  for (;;) {
    const stage = s.stage;
    if (!stage || stage.phase === 'rest') return;
    const deadline = stage.phase === 'awaiting_approval' ? stage.deadlineMs : undefined;
    await waitFor(() => s.stopping || stageMoves(s), deadline);
    if (s.stopping) return;
    if (!stageMoves(s)) continue;
    if (stage.phase === 'awaiting_approval' && s.paused) {
      s.cancelReason ??= `the first stage was not approved by ${new Date(stage.deadlineMs ?? 0).toISOString()}`;
      return;
    }
    // The next phase and whether the task pauses; the phase is stored before the task shows as paused.
    let next: StageState['phase'] = 'rest';
    let pause: string | null = null;
    let deadlineMs: number | undefined;
    if (stage.phase === 'first') {
      const verdict = judgeFirstStage(firstStage, stage, Date.now());
      if (verdict.kind === 'await_approval') {
        next = 'awaiting_approval';
        deadlineMs = verdict.deadlineMs;
        pause = verdict.reason;
      } else if (verdict.kind === 'pause') {
        // Below the threshold the task pauses; a resume goes on with the rest anyway.
        pause = verdict.reason;
      }
    }
    await s.writeTask(() => acts.setTaskStagePhase({ taskId: input.taskId, phase: next }));
    stage.phase = next;
    if (deadlineMs !== undefined) stage.deadlineMs = deadlineMs;
    if (pause) s.pauseFor(pause);
    s.mayHaveAnyPushable();
  }
}

/** The first stage is over (all of it finished), or an awaited approval came (a resume) or ran out of time. */
function stageMoves(s: TaskState): boolean {
  const stage = s.stage;
  if (!stage) return false;
  if (stage.phase === 'first') return stage.finished >= stage.size && s.inFlight.size === 0;
  if (stage.phase === 'awaiting_approval') return !s.paused || Date.now() >= (stage.deadlineMs ?? Infinity);
  return false;
}

/**
 * Completion (snapshot): after records close and nothing is in flight, count the open ones.
 * None open: complete, once the operator's changes under way have finished and none began
 * during the count (a retry that requeued devices meanwhile means counting again).
 * Handlers are waited for, not read once: a signal handled in the same activation as the
 * count's result is only marked finished a few microtasks later.
 * Some open with nothing in flight (devices waiting offline, or a record whose last write the
 * count did not see yet): counted again after a pause that doubles up to RECOUNT_MAX_MS, so a
 * finish the task heard before its record closed cannot leave the task running for ever.
 */
export async function watchCompletion(s: TaskState, input: TaskWorkflowInput): Promise<void> {
  let counted = -1;
  let pauseMs = RECOUNT_FIRST_MS;
  let recountAtMs: number | undefined;
  for (;;) {
    const changed = () => s.closedRecords !== counted && s.inFlight.size === 0 && !s.claiming;
    const settled = await waitFor(() => s.stopping || (changed() && wf.allHandlersFinished()), recountAtMs);
    if (s.stopping) return;
    if (!settled && (s.inFlight.size > 0 || s.claiming)) {
      recountAtMs = undefined; // devices in flight: their finishes bring the next count
      continue;
    }
    if (settled) pauseMs = RECOUNT_FIRST_MS;
    counted = s.closedRecords;
    const changesBefore = s.operatorChanges;
    if ((await acts.countOpenRecords({ taskId: input.taskId })) > 0) {
      recountAtMs = Date.now() + pauseMs;
      pauseMs = Math.min(pauseMs * 2, RECOUNT_MAX_MS);
      continue;
    }
    await wf.condition(wf.allHandlersFinished);
    if (s.operatorChanges !== changesBefore) {
      counted = -1;
      continue;
    }
    s.completed = true;
    return;
  }
}
