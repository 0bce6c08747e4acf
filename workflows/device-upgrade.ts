/**
 * Device upgrade workflow: one device, one task, one upgrade at a time
 * (its id is derived from the device, see domain/ids.ts).
 *
 * The story: look the device up; skip it if it is already on the target; push
 * the command (or, upon device request, hold an offer until the device takes
 * it up); follow its progress until success, failure or timeout; retry per the
 * task's policy; write the record and tell the task. An offline device costs
 * nothing while it waits: the workflow sleeps on a condition and is evicted.
 */
import * as wf from '@temporalio/workflow';
import type { DeviceActivities } from '../activities/contracts';
import type { RecordUpdate } from '../domain/rollout';
import { commandId, taskWorkflowId } from '../domain/ids';
import { judge, soakFailure, TIMEOUT_FAILURE } from '../domain/progress';
import { describeSchedule, windowState } from '../domain/schedule';
import type { Failure, RecordStatus, TimelineEntry } from '../domain/types';
import { sendUpgradeCommand } from './command-route';
import { DeviceSession } from './device-session';
import { deviceFinished, type DeviceOutcome, type DeviceUpgradeInput } from './messages';
import { OtaStatus } from './search-attributes';
import { waitFor } from './wait';

const { claimRecord, finishRecord, updateRecord } = wf.proxyActivities<DeviceActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});
/**
 * A device's getversion waits for the claim that takes its offer slot: run in the worker,
 * within the workflow task, it answers without a round trip through the server.
 */
const { claimRecord: claimRecordHere } = wf.proxyLocalActivities<DeviceActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

type AttemptResult = { kind: 'success'; how: string } | { kind: 'failure'; failure: Failure } | { kind: 'cancelled' };

export async function deviceUpgradeWorkflow(input: DeviceUpgradeInput): Promise<DeviceOutcome> {
  const s = new DeviceSession(input);
  const target = input.firmware.version;
  wf.setCurrentDetails(details(input, 'looking up the device'));

  const seenBefore = s.presenceSignals;
  const offerWaits = holdsOfferSlot(input);
  const device = await (offerWaits ? claimRecordHere : claimRecord)({
    taskId: input.taskId,
    productKey: input.productKey,
    deviceKey: input.deviceKey,
    ...(input.method === 'push' ? { push: { firmware: input.firmware, at: new Date(Date.now()).toISOString() } } : {}),
    ...(offerWaits ? { offerSlot: { limit: input.maxConcurrency } } : {}),
    ...(input.method === 'request' ? { join: { strategy: input.strategy, toVersion: target } } : {}),
  });
  s.decideOffer(
    device.stale
      ? 'this device is no longer waiting in the task'
      : device.version === target
        ? `already on the target version ${target}`
        : device.offerSlot === false
          ? `the task is at its concurrency limit (${input.maxConcurrency} devices)`
          : null,
  );
  if (device.stale) {
    // This run was started from an outdated read of the record; the device's upgrade is already decided.
    await tellTask(input, 'deferred');
    return 'deferred';
  }
  if (s.presenceSignals === seenBefore) s.online = device.online;
  // Attempt numbers (and command ids) go on from this device's earlier runs in the task.
  const earlier = device.attemptsBefore ?? 0;
  if (device.pushed) {
    s.attempt = earlier + 1;
    setStatus(s, input, 'pushed');
  }
  if (device.version === target) {
    return finish(s, input, 'skipped', { skipReason: `already on the target version ${target}` }, 'skipped');
  }
  if (device.offerSlot === false) {
    return finish(
      s,
      input,
      'deferred',
      { status: 'to_be_pushed', waitReason: 'concurrency_limit' },
      'deferred: the task is at its concurrency limit',
    );
  }
  if (input.method === 'push' && !device.pushed && !device.online) {
    // Frees the task's concurrency slot: the task pushes it again once the device reconnects.
    return finish(s, input, 'deferred', { status: 'to_be_pushed' }, 'deferred: offline');
  }

  const maxAttempts = input.retry?.maxAttempts ?? 1;
  for (let attempt = 1; ; attempt++) {
    s.attempt = earlier + attempt;
    if (attempt > 1) {
      const ready = await waitBeforeRetry(s, input);
      if (!ready) return finish(s, input, 'cancelled', { status: 'cancelled' }, `cancelled: ${s.cancelReason}`);
    }
    let result =
      input.method === 'push'
        ? await pushAndFollow(s, input, s.attempt, attempt === 1 && device.pushed)
        : await offerAndFollow(s, input, s.attempt);
    if (result !== 'expired' && result.kind === 'success' && input.soakS) result = await soak(s, input, result.how);
    if (result === 'expired') {
      return finish(s, input, 'expired', { status: 'to_be_pushed' }, 'offer expired: the device did not take it up');
    }
    if (result.kind === 'success') return finish(s, input, 'success', { status: 'success', progress: 100 }, result.how);
    if (result.kind === 'cancelled') {
      return finish(s, input, 'cancelled', { status: 'cancelled' }, `cancelled: ${s.cancelReason}`);
    }
    if (attempt >= maxAttempts) {
      return finish(
        s,
        input,
        'failure',
        { status: 'failure', failure: result.failure },
        `failed: ${result.failure.reason}`,
      );
    }
    await record(
      s,
      input,
      { status: 'failure', failure: result.failure },
      'failed',
      `${result.failure.reason}; retry scheduled`,
    );
  }
}

/** Push mode: deliver the command, then follow the device until it decides. */
async function pushAndFollow(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  attempt: number,
  alreadyPushed: boolean,
): Promise<AttemptResult> {
  const cmd = commandId(input.taskId, input.deviceKey, attempt);
  const push = async (event: string) => {
    await sendUpgradeCommand({
      productKey: input.productKey,
      deviceKey: input.deviceKey,
      commandId: cmd,
      firmware: input.firmware,
    });
    await record(
      s,
      input,
      { status: 'pushed', attempts: attempt, progress: 0, failure: null, waitReason: null },
      event,
      `command ${cmd}`,
    );
  };
  // A command that went out in an earlier try of the claim or an earlier run is not sent again.
  if (!alreadyPushed) await push('pushed');
  return follow(s, input, { started: false, repush: () => push('pushed again') });
}

/** Request mode: hold the offer open until the device starts reporting progress, or let it expire. */
async function offerAndFollow(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  attempt: number,
): Promise<AttemptResult | 'expired'> {
  s.offering = true;
  await record(
    s,
    input,
    { status: 'pushed', attempts: attempt, progress: 0, failure: null, waitReason: null },
    'offered',
    `offer of ${input.firmware.version}`,
  );
  const takenUp = await wf.condition(
    () => s.cancelled || s.reports.some((r) => r.kind === 'progress'),
    input.offerTtlS * 1000,
  );
  s.offering = false;
  if (s.cancelled) return { kind: 'cancelled' };
  if (!takenUp) return 'expired';
  while (s.reports.length && s.reports[0].kind !== 'progress') s.takeReport();
  return follow(s, input, { started: false });
}

/**
 * Takes the device's reports one at a time until one decides the attempt.
 * The timeout clock runs from the push; it stops while a device that has not
 * started is offline (it is pushed again when it is back, inside a window).
 */
async function follow(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  opts: { started: boolean; repush?: () => Promise<void> },
): Promise<AttemptResult> {
  const timeoutMs = input.upgradeTimeoutS * 1000;
  let started = opts.started;
  let deadline: number | null = Date.now() + timeoutMs;
  let repushWanted = false;
  let holdRecorded = false;
  for (;;) {
    const window = windowState(input.schedule, Date.now());
    if (repushWanted && window.open && s.online && opts.repush && !s.taskPaused) {
      repushWanted = false;
      holdRecorded = false;
      await opts.repush();
      deadline = Date.now() + timeoutMs;
      continue;
    }
    const heldByPause = repushWanted && s.taskPaused;
    if (heldByPause && !holdRecorded) {
      holdRecorded = true;
      // The device never got this attempt's command in its current session: no clock until it does.
      if (!started) deadline = null;
      await record(s, input, {}, 'waiting', 'task paused: pushed again when it resumes');
    }
    const wakeAt = Math.min(deadline ?? Infinity, repushWanted && !window.open ? window.opensAtMs : Infinity);
    const arrived = await waitFor(
      () => s.reports.length > 0 || (s.cancelled && !started) || (heldByPause && !s.taskPaused),
      wakeAt,
    );
    if (s.cancelled && !started) return { kind: 'cancelled' };
    if (!arrived) {
      if (deadline !== null && Date.now() >= deadline)
        return { kind: 'failure', failure: TIMEOUT_FAILURE(input.upgradeTimeoutS) };
      continue; // the window opened for a pending re-push
    }
    const report = s.takeReport();
    if (!report) continue;
    const verdict = judge({ targetVersion: input.firmware.version, started }, report);
    if (report.kind === 'offline') {
      if (!started) deadline = null;
      await record(s, input, {}, 'offline');
    } else if (report.kind === 'online') {
      await record(s, input, {}, 'reconnected');
    }
    switch (verdict.kind) {
      case 'success':
        return { kind: 'success', how: verdict.how };
      case 'failure':
        return verdict;
      case 'progress':
        started = true;
        await record(
          s,
          input,
          { status: 'upgrading', progress: verdict.progress },
          'progress',
          `step ${verdict.progress}`,
        );
        break;
      case 'repush':
        if (opts.repush) repushWanted = true;
        break;
      case 'none':
        break;
    }
  }
}

/** After the device's success: it must stay on the new version for the soak period before it counts. */
async function soak(s: DeviceSession, input: DeviceUpgradeInput, how: string): Promise<AttemptResult> {
  const soakS = input.soakS ?? 0;
  await record(s, input, { status: 'upgrading', progress: 100 }, 'soaking', `${how}; counts after ${soakS / 60} min`);
  const until = Date.now() + soakS * 1000;
  for (;;) {
    if (!(await waitFor(() => s.reports.length > 0, until))) {
      return { kind: 'success', how: `${how}, then ${soakS / 60} min on ${input.firmware.version}` };
    }
    const report = s.takeReport();
    if (!report) continue;
    const failure = soakFailure(input.firmware.version, report);
    if (failure) return { kind: 'failure', failure };
    if (report.kind === 'offline' || report.kind === 'online') {
      await record(s, input, {}, report.kind === 'online' ? 'reconnected' : 'offline');
    }
  }
}

/** Between attempts: wait the retry interval, then for the device to be online inside a window, the task not paused. */
async function waitBeforeRetry(s: DeviceSession, input: DeviceUpgradeInput): Promise<boolean> {
  const interval = (input.retry?.intervalSeconds ?? 0) * 1000;
  await record(
    s,
    input,
    { status: 'to_be_pushed', waitReason: 'retry_scheduled' },
    'retry scheduled',
    `attempt ${s.attempt} in ${interval / 1000} s`,
  );
  if (interval > 0 && (await wf.condition(() => s.cancelled, interval))) return false;
  for (;;) {
    s.reports.length = 0; // what the device said between attempts belongs to the failed one
    const window = windowState(input.schedule, Date.now());
    if (s.cancelled) return false;
    const paused = s.taskPaused;
    if (window.open && !paused && (s.online || input.method === 'request')) return true;
    const waitReason = paused ? 'paused' : window.open ? 'offline' : 'window_closed';
    await record(s, input, { waitReason }, 'waiting', WAITING_DETAIL[waitReason](input));
    // Outside a window the device's presence changes nothing: wake when the window opens.
    const waitsForDevice = !paused && window.open;
    await waitFor(
      () => s.cancelled || s.taskPaused !== paused || (waitsForDevice && s.online),
      paused || window.open ? undefined : window.opensAtMs,
    );
  }
}

const WAITING_DETAIL = {
  paused: () => 'task paused',
  offline: () => 'device offline',
  window_closed: (input: DeviceUpgradeInput) => describeSchedule(input.schedule),
};

async function record(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  set: Omit<RecordUpdate, 'taskId' | 'deviceKey' | 'timeline'>,
  event: string,
  detail?: string,
): Promise<void> {
  await updateRecord(recordUpdate(s, input, set, event, detail));
}

/** The record write for a step, with the workflow's own view (status, progress) moved along. */
function recordUpdate(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  set: Omit<RecordUpdate, 'taskId' | 'deviceKey' | 'timeline'>,
  event: string,
  detail?: string,
): RecordUpdate {
  if (set.status) setStatus(s, input, set.status);
  if (set.progress !== undefined) s.progress = set.progress;
  const entry: TimelineEntry = { at: new Date(Date.now()).toISOString(), event, ...(detail ? { detail } : {}) };
  return { taskId: input.taskId, deviceKey: input.deviceKey, ...set, timeline: [entry] };
}

function setStatus(s: DeviceSession, input: DeviceUpgradeInput, status: RecordStatus): void {
  if (s.status === status) return;
  s.status = status;
  wf.upsertSearchAttributes([{ key: OtaStatus, value: status }]);
  wf.setCurrentDetails(details(input, status));
}

async function finish(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  outcome: DeviceOutcome,
  set: Omit<RecordUpdate, 'taskId' | 'deviceKey' | 'timeline' | 'inWorkflow'>,
  detail: string,
): Promise<DeviceOutcome> {
  const update = recordUpdate(s, input, { inWorkflow: false, waitReason: null, ...set }, outcome, detail);
  // One activity writes the record and tells the task.
  await (holdsOfferSlot(input)
    ? finishRecord(update, outcome, { releaseOfferSlot: true })
    : finishRecord(update, outcome));
  return outcome;
}

/** Request mode: each offer holds one of the task's slots (its concurrency limit) until the upgrade ends. */
function holdsOfferSlot(input: DeviceUpgradeInput): boolean {
  return input.method === 'request';
}

async function tellTask(input: DeviceUpgradeInput, outcome: DeviceOutcome): Promise<void> {
  try {
    await wf.getExternalWorkflowHandle(taskWorkflowId(input.taskId)).signal(deviceFinished, {
      deviceKey: input.deviceKey,
      outcome,
    });
  } catch {
    // The task has closed (cancelled or completed): the record already says how this device ended.
  }
}

function details(input: DeviceUpgradeInput, state: string): string {
  return [
    `**Device** ${input.productKey}/${input.deviceKey}`,
    `**Task** ${input.taskId} (${input.kind}, ${input.method})`,
    `**Firmware** ${input.firmware.version} (${input.firmwareId})`,
    `**State** ${state}`,
    `**Window** ${describeSchedule(input.schedule)}; timeout ${input.upgradeTimeoutS} s`,
  ].join('\n\n');
}
