/**
 * The product's vocabulary as types, shared by the API, the gateway, the
 * activities and the workflows (this module is pure and workflow-safe).
 * Names follow docs/behaviour.md: task, firmware, device, record, strategy, scope,
 * filter, method, window.
 */
import type { AutoPausePolicy } from './auto-pause';
import type { RateLimit } from './rate-limit';
import type { FirstStage } from './stages';

export type Scalar = string | number | boolean;

/** A device's identity: unique within the service. */
export interface DeviceRef {
  productKey: string;
  deviceKey: string;
}

export interface Device {
  productKey: string;
  deviceKey: string;
  name: string;
  tags: Record<string, string>;
  attributes: Record<string, Scalar>;
  /** Absent until the device has reported a version. */
  firmwareVersion?: string;
  online: boolean;
  lastSeenAt?: string;
  createdAt: string;
}

export type SignMethod = 'md5' | 'sha256';

export interface Firmware {
  firmwareId: string;
  productKey: string;
  version: string;
  name: string;
  description: string;
  fileUrl: string;
  fileSize: number;
  signMethod: SignMethod;
  sign: string;
  verified: boolean;
  createdAt: string;
}

export interface AssetTreeNode {
  nodeId: string;
  /** null for a root node. */
  parentId: string | null;
  name?: string;
  /** Set (both) when the node is a device. */
  productKey?: string;
  deviceKey?: string;
}

export interface AssetTree {
  treeId: string;
  nodes: AssetTreeNode[];
  updatedAt: string;
}

export type Strategy = 'snapshot' | 'increment';
export type Scope = 'all' | 'target';
export type Method = 'push' | 'request';

export interface TagFilter {
  key: string;
  value: string;
}
export interface AttributeFilter {
  name: string;
  value: Scalar;
}
export interface AssetTreeFilter {
  treeId: string;
  nodeIds: string[];
  includeDescendants?: boolean;
}
export interface Filter {
  deviceKeys?: string[];
  tags?: TagFilter[];
  attributes?: AttributeFilter[];
  assetTrees?: AssetTreeFilter[];
}

/** "HH:MM" local times in the schedule's zone; end < start means the window runs over midnight. */
export interface ScheduleWindow {
  start: string;
  end: string;
}
export interface Schedule {
  timezone: string;
  windows: ScheduleWindow[];
}

export interface RetryPolicy {
  maxAttempts: number;
  intervalSeconds: number;
}

/** The body of POST /v1/upgrade-tasks after validation, with defaults applied. */
export interface UpgradeTaskRequest {
  name?: string;
  firmwareId: string;
  sourceVersions: string[];
  strategy: Strategy;
  scope: Scope;
  filter?: Filter;
  method: Method;
  schedule?: Schedule;
  upgradeTimeout: number;
  maxConcurrency: number;
  retry?: RetryPolicy;
  /** Increment tasks: when the task completes (ISO 8601); devices still waiting then are cancelled. */
  endTime?: string;
  /** Pause the task when too many devices fail (domain/auto-pause.ts). */
  autoPause?: AutoPausePolicy;
  /** Push tasks: devices started per minute, optionally ramping up (domain/rate-limit.ts). */
  rateLimit?: RateLimit;
  /** Push tasks: upgrade a first stage, then the rest once it went well (domain/stages.ts). */
  firstStage?: FirstStage;
  /** A success counts only after the device has stayed on the new version this long. */
  soakMinutes?: number;
}

export const DEFAULT_UPGRADE_TIMEOUT_S = 7200;
export const MIN_UPGRADE_TIMEOUT_S = 300;
export const MAX_UPGRADE_TIMEOUT_S = 172_800;
export const DEFAULT_MAX_CONCURRENCY = 300;
export const MAX_ASSET_TREES = 5;
export const MIN_WINDOW_MINUTES = 30;

export type TaskKind = 'batch' | 'verification';
export type TaskStatus = 'waiting' | 'running' | 'paused' | 'completed' | 'cancelled';
/** Tasks in these states hold their firmware (it cannot be deleted). */
export const ACTIVE_TASK_STATUSES: readonly TaskStatus[] = ['waiting', 'running', 'paused'];

export type RecordStatus = 'to_be_pushed' | 'pushed' | 'upgrading' | 'success' | 'failure' | 'skipped' | 'cancelled';
export const RECORD_STATUSES: readonly RecordStatus[] = [
  'to_be_pushed',
  'pushed',
  'upgrading',
  'success',
  'failure',
  'skipped',
  'cancelled',
];
/**
 * `rate_limit`: a task with a push rate (the rate, or its concurrency limit, holds the device).
 * `first_stage`: a staged task is still upgrading its first stage.
 */
export type WaitReason = 'offline' | 'window_closed' | 'concurrency_limit' | 'rate_limit' | 'first_stage' | 'paused';

export interface TimelineEntry {
  at: string;
  event: string;
  detail?: string;
}

export interface Failure {
  code: string;
  reason: string;
}

/** One device in one task. */
export interface DeviceUpgradeRecord {
  taskId: string;
  productKey: string;
  deviceKey: string;
  fromVersion: string | null;
  toVersion: string;
  status: RecordStatus;
  waitReason: WaitReason | null;
  progress: number;
  failure: Failure | null;
  /** For skipped records: why (e.g. busy in another task, already on the target). */
  skipReason?: string | null;
  attempts: number;
  timeline: TimelineEntry[];
  createdAt: string;
  updatedAt: string;
}

/** The firmware object devices receive in the upgrade command and the getversion reply (EnOS device protocol). */
export interface FirmwareOffer {
  version: string;
  signMethod: SignMethod;
  sign: string;
  fileUrl: string;
  fileSize: number;
}

export function toOffer(fw: Pick<Firmware, 'version' | 'signMethod' | 'sign' | 'fileUrl' | 'fileSize'>): FirmwareOffer {
  return {
    version: fw.version,
    signMethod: fw.signMethod,
    sign: fw.sign.toLowerCase(),
    fileUrl: fw.fileUrl,
    fileSize: fw.fileSize,
  };
}
