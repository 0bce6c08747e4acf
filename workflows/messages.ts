/**
 * Signals, updates and queries of the task and device workflows: the one
 * definition that workflows, activities, the gateway and the API all import.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DeviceCancellation, DeviceOutcome, ReportedDevice } from '../domain/rollout';
import type {
  FirmwareOffer,
  RecordStatus,
  RetryPolicy,
  Schedule,
  Strategy,
  TaskKind,
  TaskStatus,
} from '../domain/types';
import type { DeviceCarried } from './device-state';

export type { DeviceCancellation, DeviceOutcome, ReportedDevice };

// ─── Device upgrade workflow ───────────────────────────────────────────────

/** Everything a device workflow needs to know, fixed when it starts. */
export interface DeviceUpgradeInput {
  taskId: string;
  kind: TaskKind;
  strategy: Strategy;
  productKey: string;
  deviceKey: string;
  firmwareId: string;
  firmware: FirmwareOffer;
  method: 'push' | 'request';
  upgradeTimeoutS: number;
  schedule?: Schedule;
  retry?: RetryPolicy;
  /** How long a request-mode offer waits for the device to take it up. */
  offerTtlS: number;
  /** Request mode: the task's limit on devices between offer and result. */
  maxConcurrency: number;
  /** A success counts only after the device has stayed on the new version this long. */
  soakS?: number;
  /** Set by the workflow itself when it continues as new: where the upgrade stands. */
  carried?: DeviceCarried;
}

/** `sessionSince` (online only): the session that connected, as the gateway names it to a command's sender. */
export const devicePresence =
  defineSignal<[{ online: boolean; reason?: string; sessionSince?: number }]>('devicePresence');
export const deviceProgress = defineSignal<[{ step: number; desc: string }]>('deviceProgress');
export const deviceVersion = defineSignal<[{ version: string }]>('deviceVersion');
export const deviceUpgradeReply =
  defineSignal<[{ commandId: string; code: number; message: string }]>('deviceUpgradeReply');
/*
 * Task-to-device signals name the task: the workflow id belongs to the device, so a signal sent
 * just after this task's upgrade ended could reach the device's upgrade in another task.
 */

/**
 * The task was paused or resumed. While paused the device workflow pushes nothing: no re-push
 * on reconnect and no retry; an upgrade the device has already started is still followed.
 */
export const taskPauseChanged = defineSignal<[{ taskId: string; paused: boolean }]>('taskPauseChanged');
/** Cancel this device's upgrade unless it is already under way on the device (then it finishes). */
export const cancelDeviceUpgrade = defineSignal<[{ reason: string; taskId: string }]>('cancelDeviceUpgrade');

/** A device asks for firmware (getversion): the offer, or a refusal when this workflow is not the task's offer. */
export const requestFirmware = defineUpdate<FirmwareOffer[], [{ taskId: string }]>('requestFirmware');

export interface DeviceUpgradeState {
  taskId: string;
  status: RecordStatus;
  progress: number;
  attempt: number;
  online: boolean;
  /** The task is paused: this device's pushes are held. */
  taskPaused: boolean;
}
export const deviceUpgradeState = defineQuery<DeviceUpgradeState>('deviceUpgradeState');

// ─── Task workflow ─────────────────────────────────────────────────────────

/**
 * A device's part of the task ended. `attempt` is the device's attempt number in the task (0 before
 * its first push): the task counts each (device, attempt) once, however often it hears of it.
 */
export interface FinishedDevice {
  deviceKey: string;
  outcome: DeviceOutcome;
  attempt: number;
}
export const deviceFinished = defineSignal<[FinishedDevice]>('deviceFinished');
/** Several devices finished: what the worker's finishing activities send, batched per task. */
export const devicesFinished = defineSignal<[{ finishes: FinishedDevice[] }]>('devicesFinished');
/** A hint: some waiting devices may be pushable now (came online, retried). The task re-reads MongoDB. */
export const devicesReady = defineSignal('devicesReady');
/** A hint for increment tasks: devices were registered or reported a version; rescan from the cursor. */
export const devicesAdded = defineSignal('devicesAdded');
/** Increment tasks: devices that may join; the task admits them (domain/admission.ts). */
export const devicesReported = defineSignal<[{ devices: ReportedDevice[] }]>('devicesReported');
export const pauseTask = defineSignal('pauseTask');
export const resumeTask = defineSignal('resumeTask');
export const cancelTask = defineSignal<[{ reason: string }]>('cancelTask');
/** An operator's retry: failed devices (all, or the named ones) wait again. Answers how many do. */
export const retryDevices = defineUpdate<number, [{ deviceKeys?: string[] }]>('retryDevices');
/**
 * An operator cancels one device: a waiting record is closed here, a device workflow that owns
 * the record is asked to stop.
 */
export const cancelDevice = defineUpdate<DeviceCancellation, [{ deviceKey: string; reason: string }]>('cancelDevice');

export interface TaskProgress {
  taskId: string;
  status: TaskStatus;
  inFlight: number;
  /** Devices whose part ended (success, failure, cancelled, skipped), each counted once. */
  finished: number;
  /** Devices that succeeded, each counted once. */
  succeeded: number;
  runs: number;
}
export const taskProgress = defineQuery<TaskProgress>('taskProgress');
