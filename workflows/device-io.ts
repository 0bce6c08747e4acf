/**
 * The device workflow's steps into the outside world: its activities, the record write that
 * moves the workflow's own view (status, progress, search attribute) along with it, and the
 * one way it waits for its device.
 */
import * as wf from '@temporalio/workflow';
import type { DeviceActivities } from '../activities/contracts';
import type { RecordUpdate } from '../domain/rollout';
import { describeSchedule } from '../domain/schedule';
import type { RecordStatus, TimelineEntry } from '../domain/types';
import type { DeviceSession } from './device-session';
import type { DeviceUpgradeInput } from './messages';
import { OtaStatus } from './search-attributes';
import { waitFor } from './wait';

const retry: wf.ActivityOptions['retry'] = { initialInterval: '1 second', maximumInterval: '30 seconds' };

/**
 * Reads and writes of the database: short, and harmless to repeat, so they run in the worker
 * within the workflow task: one marker in history each and no round trip through the server
 * (a getversion waits for the claim and the offer slot).
 */
export const { claimRecord, takeOfferSlot, lookUpDevice, updateRecord, finishRecord } =
  wf.proxyLocalActivities<DeviceActivities>({ startToCloseTimeout: '30 seconds', retry });

export type RecordSet = Omit<RecordUpdate, 'taskId' | 'deviceKey' | 'timeline'>;

/** One record write: fields to set and, in order, the timeline entries ([event, detail?]) it adds. */
export async function record(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  set: RecordSet,
  ...entries: Array<[string, string?]>
): Promise<void> {
  await updateRecord(recordUpdate(s, input, set, entries));
}

/** The record write for a step, with the workflow's own view (status, progress) moved along. */
export function recordUpdate(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  set: RecordSet,
  entries: Array<[string, string?]>,
): RecordUpdate {
  followRecord(s, input, set);
  const at = new Date(Date.now()).toISOString();
  const timeline = entries.map(([event, detail]): TimelineEntry => ({ at, event, ...(detail ? { detail } : {}) }));
  return { taskId: input.taskId, deviceKey: input.deviceKey, ...set, timeline };
}

/** The workflow's own view (status, progress, search attribute) moves as the record does. */
export function followRecord(s: DeviceSession, input: DeviceUpgradeInput, set: RecordSet): void {
  if (set.status) setStatus(s, input, set.status);
  if (set.progress !== undefined) s.progress = set.progress;
}

function setStatus(s: DeviceSession, input: DeviceUpgradeInput, status: RecordStatus): void {
  if (s.status === status) return;
  s.status = status;
  wf.upsertSearchAttributes([{ key: OtaStatus, value: status }]);
  wf.setCurrentDetails(details(input, status));
}

/**
 * Waits for `ready`, or until `untilMs`, but never longer than the re-check period: then the
 * device is read from the registry and whatever its events should have said (it came online,
 * went offline, reported the target version) is queued as if it had. A device event the
 * gateway lost so delays the upgrade by one period at most. True when `ready` holds; false
 * when woken without it (the caller looks at its own clocks and waits again).
 */
export async function waitForDevice(
  s: DeviceSession,
  input: DeviceUpgradeInput,
  ready: () => boolean,
  untilMs = Infinity,
): Promise<boolean> {
  const recheckAtMs = Date.now() + s.recheckS * 1000;
  const signalsBefore = s.presenceSignals;
  if (await waitFor(ready, Math.min(untilMs, recheckAtMs))) return true;
  if (Date.now() >= untilMs) return false;
  const device = await lookUpDevice({ productKey: input.productKey, deviceKey: input.deviceKey });
  // A presence signal heard meanwhile may be newer than the registry's write (they do not wait for each other).
  s.observe(device, input.firmware.version, { presence: s.presenceSignals === signalsBefore });
  return ready();
}

export function details(input: DeviceUpgradeInput, state: string): string {
  return [
    `**Device** ${input.productKey}/${input.deviceKey}`,
    `**Task** ${input.taskId} (${input.kind}, ${input.method})`,
    `**Firmware** ${input.firmware.version} (${input.firmwareId})`,
    `**State** ${state}`,
    `**Window** ${describeSchedule(input.schedule)}; timeout ${input.upgradeTimeoutS} s`,
  ].join('\n\n');
}
