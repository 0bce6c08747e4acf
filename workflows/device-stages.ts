/**
 * The stages of one device's attempt. Each function is one step: wait once (for the device,
 * a clock, or the re-check period), act on what arrived, and answer the stage to take next,
 * or how the upgrade ends. The workflow body (workflows/device-upgrade.ts) repeats steps, so
 * that between any two it can continue as new with the stage in hand.
 */
import { commandDetail, pushedFields } from '../domain/first-push';
import { commandId } from '../domain/ids';
import { judge, soakFailure, TIMEOUT_FAILURE } from '../domain/progress';
import type { DeviceOutcome } from '../domain/rollout';
import type { Failure, WaitReason } from '../domain/types';
import { describeSchedule, windowState } from '../domain/schedule';
import type { FirstPush } from '../activities/contracts';
import type { Stage } from './device-state';

type Following = Extract<Stage, { kind: 'following' }>;
import type { DeviceSession } from './device-session';
import { sendUpgradeCommand } from './command-route';
import { followRecord, record, recordUpdate, type RecordSet, waitForDevice } from './device-io';
import type { DeviceUpgradeInput } from './messages';
import { waitFor } from './wait';

/** How the upgrade ends: the outcome, the record's last write (null: the record is not this run's), the refusal a getversion hears. */
export interface Ending {
  kind: 'end';
  outcome: DeviceOutcome;
  set: RecordSet | null;
  detail: string;
  refusal?: string;
}
export type Next = Stage | Ending;

export const end = (outcome: DeviceOutcome, set: RecordSet | null, detail: string, refusal?: string): Ending => ({
  kind: 'end',
  outcome,
  set,
  detail,
  ...(refusal ? { refusal } : {}),
});

const cancelled = (s: DeviceSession) => end('cancelled', { status: 'cancelled' }, `cancelled: ${s.cancelReason}`);

/**
 * A new attempt: the command goes out (push), or the offer opens (request). `lookedOnce`: the
 * claim handed this attempt's command to the gateway presence named, which did not take it.
 */
export async function startAttempt(s: DeviceSession, input: DeviceUpgradeInput, lookedOnce = false): Promise<Stage> {
  s.attempt += 1;
  if (input.method === 'request') {
    s.offering = true;
    await record(s, input, opened(s), ['offered', `offer of ${input.firmware.version}`]);
    return { kind: 'offered', expiresAtMs: Date.now() + input.offerTtlS * 1000 };
  }
  return push(s, input, 'pushed', lookedOnce);
}

/**
 * The claim handed the first command over and the device's session took it (domain/first-push.ts):
 * the hand-over wrote the record, the workflow's own view follows, as after its own push.
 */
export function pushedWithClaim(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  first: FirstPush,
  disconnectHeard: boolean,
): Stage {
  s.attempt = first.attempt;
  followRecord(s, input, opened(s));
  s.commandTaken(first.sessionSince ?? null, { disconnectHeard });
  return following(input, false);
}

/**
 * The attempt this run had under way when its workflow task ran again from the claim (see
 * `begin`). What the device said since is still in hand, as signals stay in history: with a
 * report, the command reached it and the attempt is followed; with none, the command goes out
 * again under the same id (or the offer opens again), as after any redelivery.
 */
export async function resumeAttempt(s: DeviceSession, input: DeviceUpgradeInput): Promise<Stage> {
  if (s.reports.some((r) => r.kind === 'progress' || r.kind === 'version')) return following(input, false);
  if (input.method === 'request') {
    s.offering = true;
    return { kind: 'offered', expiresAtMs: Date.now() + input.offerTtlS * 1000 };
  }
  return push(s, input, 'pushed again');
}

const opened = (s: DeviceSession): RecordSet => pushedFields(s.attempt);

/** Following starts (or starts again) with the timeout clock running from now. */
const following = (input: DeviceUpgradeInput, started: boolean): Following => ({
  kind: 'following',
  started,
  deadlineMs: Date.now() + input.upgradeTimeoutS * 1000,
  repushWanted: false,
  holdRecorded: false,
});

/**
 * The command goes to the gateway holding the device's session. When no gateway holds one,
 * the device has left since it was last seen: the attempt waits, with no clock, for it to be
 * back (its reconnect asks for the command again, as after any reconnect before it started).
 */
async function push(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  event: string,
  lookedOnce = false,
): Promise<Following> {
  const cmd = commandId(input.taskId, input.deviceKey, s.attempt);
  const disconnectsBefore = s.disconnects;
  // Either way the record says `pushed`; the hand-over writes it when the session took the command.
  const pushed = recordUpdate(s, input, opened(s), [[event, commandDetail(cmd)]]);
  const handover = await sendUpgradeCommand(
    { productKey: input.productKey, deviceKey: input.deviceKey, commandId: cmd, firmware: input.firmware },
    { knownGateway: s.takeSessionGateway(), lookedOnce },
    pushed,
  );
  if (handover.delivery === 'delivered') {
    s.commandTaken(handover.sessionSince ?? null, { disconnectHeard: s.disconnects !== disconnectsBefore });
    return following(input, false);
  }
  await record(s, input, opened(s), [event, `${commandDetail(cmd)} not delivered: the device is not connected`]);
  s.observe({ online: false, version: null }, input.firmware.version, { presence: true });
  return { ...following(input, false), deadlineMs: null, repushWanted: true };
}

/** Request mode: the offer waits for the device's first progress report (or the target version), or expires. */
export async function offered(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  stage: Extract<Stage, { kind: 'offered' }>,
): Promise<Next> {
  const target = input.firmware.version;
  const takesUp = (r: (typeof s.reports)[number]) =>
    r.kind === 'progress' || (r.kind === 'version' && r.version === target);
  const taken = await waitForDevice(s, input, () => s.cancelled || s.reports.some(takesUp), stage.expiresAtMs);
  if (s.cancelled) {
    s.offering = false;
    return cancelled(s);
  }
  if (!taken) {
    if (Date.now() < stage.expiresAtMs) return stage;
    s.offering = false;
    return end('expired', { status: 'to_be_pushed' }, 'offer expired: the device did not take it up');
  }
  s.offering = false;
  while (s.reports.length && !takesUp(s.reports[0])) s.takeReport();
  return takeReports(s, input, following(input, false));
}

/**
 * The command is out: the device's reports decide. The timeout clock runs from the push; it
 * stops while a device that has not started is offline (it is pushed again when it is back,
 * inside a window, the task not paused).
 */
export async function follow(s: DeviceSession, input: DeviceUpgradeInput, stage: Following): Promise<Next> {
  const window = windowState(input.schedule, Date.now());
  if (stage.repushWanted && window.open && s.online && !s.taskPaused) {
    const next = await push(s, input, 'pushed again');
    return { ...next, started: stage.started };
  }
  const heldByPause = stage.repushWanted && s.taskPaused;
  if (heldByPause && !stage.holdRecorded) {
    await record(s, input, {}, ['waiting', 'task paused: pushed again when it resumes']);
    // The device never got this attempt's command in its current session: no clock until it does.
    return { ...stage, holdRecorded: true, deadlineMs: stage.started ? stage.deadlineMs : null };
  }
  const wakeAtMs = Math.min(
    stage.deadlineMs ?? Infinity,
    stage.repushWanted && !window.open ? window.opensAtMs : Infinity,
  );
  const arrived = await waitForDevice(
    s,
    input,
    () => s.reports.length > 0 || (s.cancelled && !stage.started) || (heldByPause && !s.taskPaused),
    wakeAtMs,
  );
  if (s.cancelled && !stage.started) return cancelled(s);
  if (!arrived) {
    if (stage.deadlineMs !== null && Date.now() >= stage.deadlineMs) {
      return failed(s, input, TIMEOUT_FAILURE(input.upgradeTimeoutS));
    }
    return stage; // a re-check, or the window opened for a pending re-push
  }
  return takeReports(s, input, stage);
}

/** Takes every queued report, in order, until one decides the attempt; one record write for the rest. */
async function takeReports(s: DeviceSession, input: DeviceUpgradeInput, stage: Following): Promise<Next> {
  let { started, deadlineMs, repushWanted } = stage;
  let set: RecordSet = {};
  const entries: Array<[string, string?]> = [];
  let decided: Next | null = null;
  for (let report = s.takeReport(); report && !decided; report = s.takeReport()) {
    const verdict = judge({ targetVersion: input.firmware.version, started }, report);
    if (report.kind === 'offline') {
      if (!started) deadlineMs = null;
      entries.push(['offline']);
    } else if (report.kind === 'online') {
      entries.push(['reconnected']);
    }
    if (verdict.kind === 'success') decided = await succeeded(s, input, verdict.how);
    else if (verdict.kind === 'failure') decided = await failed(s, input, verdict.failure);
    else if (verdict.kind === 'repush') repushWanted = input.method === 'push';
    else if (verdict.kind === 'progress') {
      started = true;
      // A repeated step changes nothing worth a write.
      if (verdict.progress !== s.progress || s.status !== 'upgrading') {
        set = { status: 'upgrading', progress: verdict.progress };
        entries.push(['progress', `step ${verdict.progress}`]);
      }
    }
    if (decided) break;
  }
  if (decided) return decided;
  if (entries.length) await record(s, input, set, ...entries.slice(-TIMELINE_PER_WRITE));
  return { ...stage, started, deadlineMs, repushWanted };
}

/** A burst of reports adds at most this many timeline entries (the record keeps its last 50 anyway). */
const TIMELINE_PER_WRITE = 10;

/** The device succeeded: it counts at once, or after the soak period. */
async function succeeded(s: DeviceSession, input: DeviceUpgradeInput, how: string): Promise<Next> {
  if (!input.soakS) return end('success', { status: 'success', progress: 100 }, how);
  const soakS = input.soakS;
  await record(s, input, { status: 'upgrading', progress: 100 }, ['soaking', `${how}; counts after ${soakS / 60} min`]);
  return { kind: 'soaking', untilMs: Date.now() + soakS * 1000, how };
}

/** After the device's success: it must stay on the new version for the soak period before it counts. */
export async function soak(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  stage: Extract<Stage, { kind: 'soaking' }>,
): Promise<Next> {
  if (!(await waitForDevice(s, input, () => s.reports.length > 0, stage.untilMs))) {
    if (Date.now() < stage.untilMs) return stage;
    const soakS = input.soakS ?? 0;
    return end(
      'success',
      { status: 'success', progress: 100 },
      `${stage.how}, then ${soakS / 60} min on ${input.firmware.version}`,
    );
  }
  const entries: Array<[string, string?]> = [];
  for (let report = s.takeReport(); report; report = s.takeReport()) {
    const failure = soakFailure(input.firmware.version, report);
    if (failure) return failed(s, input, failure);
    if (report.kind === 'offline' || report.kind === 'online') {
      entries.push([report.kind === 'online' ? 'reconnected' : 'offline']);
    }
  }
  if (entries.length) await record(s, input, {}, ...entries.slice(-TIMELINE_PER_WRITE));
  return stage;
}

/** A failed attempt: the last one ends the upgrade, an earlier one schedules the next. */
async function failed(s: DeviceSession, input: DeviceUpgradeInput, failure: Failure): Promise<Next> {
  const maxAttempts = input.retry?.maxAttempts ?? 1;
  if (s.attempt - s.attemptsBefore >= maxAttempts) {
    return end('failure', { status: 'failure', failure }, `failed: ${failure.reason}`);
  }
  const intervalS = input.retry?.intervalSeconds ?? 0;
  await record(
    s,
    input,
    { status: 'to_be_pushed', failure, waitReason: 'retry_scheduled' },
    ['failed', `${failure.reason}; retry scheduled`],
    ['retry scheduled', `attempt ${s.attempt + 1} in ${intervalS} s`],
  );
  return { kind: 'retrying', notBeforeMs: Date.now() + intervalS * 1000, waitingFor: null };
}

/** Between attempts: the retry interval, then the device online inside a window, the task not paused. */
export async function retry(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  stage: Extract<Stage, { kind: 'retrying' }>,
): Promise<Next> {
  if (s.cancelled) return cancelled(s);
  if (Date.now() < stage.notBeforeMs) {
    await waitFor(() => s.cancelled, stage.notBeforeMs);
    return stage;
  }
  s.reports.length = 0; // what the device said between attempts belongs to the failed one
  const window = windowState(input.schedule, Date.now());
  const paused = s.taskPaused;
  if (window.open && !paused && (s.online || input.method === 'request')) return startAttempt(s, input);
  const waitingFor: WaitReason = paused ? 'paused' : window.open ? 'offline' : 'window_closed';
  if (stage.waitingFor !== waitingFor) {
    await record(s, input, { waitReason: waitingFor }, ['waiting', WAITING_DETAIL[waitingFor](input)]);
    return { ...stage, waitingFor };
  }
  const changed = () => s.cancelled || s.taskPaused !== paused || (window.open && !paused && s.online);
  // Outside a window the device's presence changes nothing: a timer wakes it when the window opens.
  if (!paused && !window.open) await waitFor(changed, window.opensAtMs);
  else await waitForDevice(s, input, changed);
  return stage;
}

const WAITING_DETAIL: Record<string, (input: DeviceUpgradeInput) => string> = {
  paused: () => 'task paused',
  offline: () => 'device offline',
  window_closed: (input) => describeSchedule(input.schedule),
};
