/**
 * What the parts of a rollout tell each other, as plain data: how a device's
 * upgrade ended, a change to its record, a device that may join a task. The
 * workflows' messages (workflows/messages.ts) and the activity interfaces
 * (activities/contracts.ts) are both written in these terms.
 */
import type { ScopeSpec } from './scope';
import type {
  Failure,
  FirmwareOffer,
  Method,
  RecordStatus,
  RetryPolicy,
  Schedule,
  Strategy,
  TaskKind,
  TimelineEntry,
  WaitReason,
} from './types';

/** How one device's part of a task ended; "deferred" and "expired" put the device back in the queue. */
export type DeviceOutcome = 'success' | 'failure' | 'cancelled' | 'skipped' | 'deferred' | 'expired';
/** A device reported a version on which it may join an increment task (the gateway's look, not yet admitted). */
export interface ReportedDevice {
  deviceKey: string;
  version: string;
  reportedAtMs: number;
}
/** What an operator's cancel of one device did: closed its waiting record, asked its workflow, or neither. */
export type DeviceCancellation = 'cancelled' | 'signalled' | 'none';

/** A change to one device's record: fields to set and timeline entries to append. */
export interface RecordUpdate {
  taskId: string;
  deviceKey: string;
  status?: RecordStatus;
  waitReason?: WaitReason | 'retry_scheduled' | null;
  progress?: number;
  failure?: Failure | null;
  skipReason?: string | null;
  attempts?: number;
  /** True while a device workflow owns the record; the task only claims records without one. */
  inWorkflow?: boolean;
  timeline: TimelineEntry[];
}

/** What the task's admission activities act on: who joins, and on which terms. */
export interface AdmissionSettings {
  taskId: string;
  productKey: string;
  strategy: Strategy;
  /** The firmware version the task upgrades to (a device already on it is not admitted as waiting). */
  toVersion: string;
  scope: ScopeSpec;
}

/** What a device workflow of the task is started with (everything but the device), fixed at creation. */
export interface DeviceStartSettings {
  taskId: string;
  kind: TaskKind;
  strategy: Strategy;
  productKey: string;
  firmwareId: string;
  firmware: FirmwareOffer;
  method: Method;
  /** Seconds. */
  upgradeTimeout: number;
  schedule?: Schedule;
  retry?: RetryPolicy;
  maxConcurrency: number;
  soakMinutes?: number;
}
