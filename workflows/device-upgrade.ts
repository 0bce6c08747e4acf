/**
 * Device upgrade workflow: one device, one task, one upgrade at a time
 * (its id is derived from the device, see domain/ids.ts).
 *
 * The story: claim the device's record; skip it if it is already on the target; push the
 * command (or, upon device request, hold an offer until the device takes it up); follow its
 * progress until success, failure or timeout; retry per the task's policy; write the record
 * and tell the task. The stages are in workflows/device-stages.ts.
 *
 * Two promises hold whatever the device does (docs/behaviour.md, "Device workflows"):
 * - no wait is without a timer: a waiting workflow re-reads the device from the registry
 *   every re-check period, so a device event the gateway lost delays it by one period at most;
 * - no run's history grows without bound: past HISTORY_BUDGET events the workflow continues
 *   as new, carrying its session and its stage (workflows/device-state.ts).
 */
import * as wf from '@temporalio/workflow';
import { taskWorkflowId } from '../domain/ids';
import type { DeviceCarried } from './device-state';
import { claimRecord, details, finishRecord, recordUpdate, takeOfferSlot } from './device-io';
import { warnNotTaken } from './command-route';
import { DeviceSession } from './device-session';
import {
  end,
  follow,
  offered,
  pushedWithClaim,
  resumeAttempt,
  retry,
  soak,
  startAttempt,
  type Ending,
  type Next,
} from './device-stages';
import { deviceFinished, type DeviceOutcome, type DeviceUpgradeInput } from './messages';

/**
 * A run continues as new once its history holds this many events. It does so between two
 * steps, so signals that arrive during its last step come on top: with the gateway's limit
 * on a device's messages a run stays far below the 2,000 events docs/behaviour.md states.
 */
const HISTORY_BUDGET = 1000;

export async function deviceUpgradeWorkflow(input: DeviceUpgradeInput): Promise<DeviceOutcome> {
  const { carried, ...fixed } = input;
  const s = new DeviceSession(fixed, carried?.session);
  wf.setCurrentDetails(details(fixed, carried ? s.status : 'looking up the device'));

  let next: Next = carried ? carried.stage : await begin(s, fixed);
  while (next.kind !== 'end') {
    if (timeToContinueAsNew()) {
      // Handlers only record what arrived; the one that waits (getversion) was answered long ago.
      await wf.condition(wf.allHandlersFinished);
      const state: DeviceCarried = { session: s.carry(), stage: next };
      return wf.continueAsNew<typeof deviceUpgradeWorkflow>({ ...fixed, carried: state });
    }
    next = await step(s, fixed, next);
  }
  return finish(s, fixed, next);
}

function step(s: DeviceSession, input: DeviceUpgradeInput, stage: Exclude<Next, Ending>): Promise<Next> {
  switch (stage.kind) {
    case 'offered':
      return offered(s, input, stage);
    case 'following':
      return follow(s, input, stage);
    case 'soaking':
      return soak(s, input, stage);
    case 'retrying':
      return retry(s, input, stage);
  }
}

/** Claims the record, then decides: not ours any more, already upgraded, no slot, offline, or the first attempt. */
async function begin(s: DeviceSession, input: DeviceUpgradeInput): Promise<Next> {
  const target = input.firmware.version;
  const seenBefore = s.presenceSignals;
  const disconnectsBefore = s.disconnects;
  const claim = await claimRecord({
    taskId: input.taskId,
    productKey: input.productKey,
    deviceKey: input.deviceKey,
    runId: wf.workflowInfo().runId,
    ...(input.method === 'request'
      ? { join: { strategy: input.strategy, toVersion: target } }
      : { pushWith: { firmware: input.firmware, at: new Date(Date.now()).toISOString() } }),
  });
  s.recheckS = claim.recheckS;
  // A presence signal that arrived during the claim is newer than the claim's read.
  if (s.presenceSignals === seenBefore) {
    s.online = claim.online;
    // The first command goes straight to the gateway the claim saw holding the session.
    s.sessionGateway = claim.gatewayId;
  }
  // Attempt numbers (and command ids) go on from this device's earlier runs in the task.
  s.attemptsBefore = claim.attempts;
  s.attempt = claim.attempts;
  // This run's attempt is under way already: the workflow task that made it was lost with its
  // worker, or its end was refused for news that came meanwhile, and runs again from the claim.
  const resuming = claim.retaken && claim.status !== 'to_be_pushed' && claim.attempts > 0;
  if (resuming) s.attemptsBefore -= 1;

  if (claim.status !== 'to_be_pushed' && !claim.retaken) {
    // Started from an outdated read of the record: the device's upgrade is already decided, the record is not ours.
    return end('deferred', null, 'no longer waiting', 'this device is no longer waiting in the task');
  }
  if (claim.fromVersion === target) {
    const reason = `already on the target version ${target}`;
    return end('skipped', { status: 'skipped', skipReason: reason }, reason, reason);
  }
  const first = claim.firstPush;
  // The claim's hand-over is decided by the record and presence as the claim read them, and it
  // stands whatever presence signal came meanwhile: the session took the command.
  if (first?.delivery === 'delivered') return pushedWithClaim(s, input, first, s.disconnects !== disconnectsBefore);
  if (first) {
    s.sessionGateway = null;
    if (first.delivery === 'failed') {
      warnNotTaken({ productKey: input.productKey, deviceKey: input.deviceKey }, first.gatewayId, first.reason);
    }
  }
  if (input.method === 'request') {
    const slot = await takeOfferSlot({ taskId: input.taskId, deviceKey: input.deviceKey, limit: input.maxConcurrency });
    if (!slot) {
      return end(
        'deferred',
        { status: 'to_be_pushed', waitReason: 'concurrency_limit' },
        'deferred: the task is at its concurrency limit',
        `the task is at its concurrency limit (${input.maxConcurrency} devices)`,
      );
    }
    s.decideOffer(null);
  } else if (!s.online) {
    // Frees the task's concurrency slot: the task pushes it again once the device reconnects.
    return end('deferred', { status: 'to_be_pushed' }, 'deferred: offline');
  }
  return resuming ? resumeAttempt(s, input) : startAttempt(s, input, first !== undefined);
}

function timeToContinueAsNew(): boolean {
  const info = wf.workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= HISTORY_BUDGET;
}

/**
 * The record's last write and the task told, in one step; then the getversion that waited
 * (a refused offer) hears why, once the record says it.
 */
async function finish(s: DeviceSession, input: DeviceUpgradeInput, ending: Ending): Promise<DeviceOutcome> {
  if (ending.set) {
    const update = recordUpdate(s, input, { inWorkflow: false, waitReason: null, ...ending.set }, [
      [ending.outcome, ending.detail],
    ]);
    await finishRecord(update, ending.outcome, {
      attempt: s.attempt,
      releaseOfferSlot: input.method === 'request',
    });
  } else {
    await tellTask(input, ending.outcome, s.attempt);
  }
  s.decideOffer(ending.refusal ?? 'the upgrade has ended');
  await wf.condition(wf.allHandlersFinished);
  return ending.outcome;
}

async function tellTask(input: DeviceUpgradeInput, outcome: DeviceOutcome, attempt: number): Promise<void> {
  try {
    await wf.getExternalWorkflowHandle(taskWorkflowId(input.taskId)).signal(deviceFinished, {
      deviceKey: input.deviceKey,
      outcome,
      attempt,
    });
  } catch {
    // The task has closed (cancelled or completed): the record already says how this device ended.
  }
}
