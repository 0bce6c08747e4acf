/**
 * What the workflows ask of the outside world. Types only: workflows import
 * this module with `import type`, the worker provides the implementations
 * (activities/*.ts), and workflow tests may provide their own.
 */
import type { FirmwareOffer, Strategy, TaskStatus } from '../domain/types';
import type { StageState } from '../domain/stages';
import type {
  AdmissionSettings,
  DeviceCancellation,
  DeviceOutcome,
  DeviceStartSettings,
  RecordUpdate,
  ReportedDevice,
} from '../domain/rollout';

export interface DeviceActivities {
  /**
   * Marks the device's record as owned by this workflow (the task then never
   * claims it twice) and returns the device's presence and version as the
   * record knows them. With `push`, and the device online and not already on
   * the target, it also publishes the first command and records it as pushed:
   * one activity instead of three on the path almost every device takes.
   * `stale`: the record no longer waits (another run of this device already
   * finished it) and was left alone. With `offerSlot` (upon request) it takes
   * one of the task's slots (db/offer-slots.ts): `offerSlot` in the answer
   * says whether it got one.
   */
  claimRecord(input: {
    taskId: string;
    productKey: string;
    deviceKey: string;
    push?: { firmware: FirmwareOffer; at: string };
    offerSlot?: { limit: number };
    /**
     * A device asking for firmware that has no record in the task yet: admit it first
     * (domain/admission.ts; the gateway has checked that it qualifies).
     */
    join?: { strategy: Strategy; toVersion: string };
  }): Promise<{
    online: boolean;
    version: string | null;
    pushed: boolean;
    stale?: boolean;
    offerSlot?: boolean;
    /**
     * Pushes of this device in this task by earlier runs (an operator's retry, a
     * re-admission): this run numbers its attempts, and so its command ids, after them.
     */
    attemptsBefore?: number;
  }>;
  /** Publishes the EnOS upgrade command to the device's session through the gateway. */
  pushUpgradeCommand(input: {
    productKey: string;
    deviceKey: string;
    commandId: string;
    firmware: FirmwareOffer;
  }): Promise<void>;
  updateRecord(update: RecordUpdate): Promise<void>;
  /**
   * The device's last record write (and its offer slot, if any, given back), then the task told how the device ended:
   * one activity where a write and a workflow-to-workflow signal took two
   * steps and five history events. If the activity is retried after it
   * signalled, the task hears twice; `attempt` (the device's attempt number in
   * the task, 0 before its first push) lets it count the device once.
   */
  finishRecord(
    update: RecordUpdate,
    outcome: DeviceOutcome,
    opts: { attempt: number; releaseOfferSlot?: boolean },
  ): Promise<void>;
}

export interface StartResult {
  /** Device workflows started (or found already running for this task). */
  started: string[];
  /** Records closed without a workflow: busy in another task, already on target. */
  skipped: number;
  /** Fewer pushable records than asked for: nothing more to claim right now. */
  exhausted: boolean;
}

/**
 * The task workflow's activities. Each gets the task's settings it acts on as arguments (the
 * workflow carries them from its input): none reads the task document.
 */
export interface TaskActivities {
  /**
   * Snapshot: writes the fixed list of records (devices registered by `createdAtMs`). Increment:
   * admits the devices that match now. Returns how many devices the task holds after the scan
   * (counted across a resume from a heartbeat) and the scan cursor.
   */
  prepareTask(input: { task: AdmissionSettings; createdAtMs: number }): Promise<{ admitted: number; cursorMs: number }>;
  /** Increment: admits devices registered or reporting a version since the cursor. */
  admitNewDevices(input: { task: AdmissionSettings; sinceMs: number }): Promise<{ admitted: number; cursorMs: number }>;
  /** Increment: admits devices that reported a source version (domain/admission.ts), scope checked here. */
  admitReported(input: { task: AdmissionSettings; devices: ReportedDevice[] }): Promise<{ admitted: number }>;
  /** Starts device workflows for up to `limit` waiting records whose devices are online. */
  startPushableDevices(input: { device: DeviceStartSettings; limit: number }): Promise<StartResult>;
  /** Records that are not final yet (to be pushed, pushed, upgrading). */
  countOpenRecords(input: { taskId: string }): Promise<number>;
  /** A staged task's phase, for the API (waiting devices say `first_stage` while it is "first"). */
  setTaskStagePhase(input: { taskId: string; phase: StageState['phase'] }): Promise<void>;
  /** `reason`: why a paused task is paused (shown with it); cleared by any other status. */
  setTaskStatus(input: { taskId: string; status: TaskStatus; reason?: string }): Promise<void>;
  /**
   * Tells the task's running device workflows that it was paused or resumed: the named ones
   * (a push task knows its devices in flight), or, for a request task, whichever own a record.
   */
  tellDevicesPaused(input: {
    taskId: string;
    productKey: string;
    paused: boolean;
    deviceKeys?: string[];
  }): Promise<{ signalled: number }>;
  /** An operator's retry: the task's failed records (all, or the named ones) wait again; returns how many. */
  requeueFailed(input: { taskId: string; deviceKeys?: string[] }): Promise<number>;
  /** An operator cancels one device: its waiting record is closed, or its device workflow is asked to stop. */
  cancelOneDevice(input: {
    taskId: string;
    productKey: string;
    deviceKey: string;
    reason: string;
  }): Promise<DeviceCancellation>;
  /** Cancels waiting records and asks running device workflows of the task to stop. */
  cancelTaskDevices(input: {
    taskId: string;
    productKey: string;
    reason: string;
  }): Promise<{ cancelled: number; signalled: number }>;
  /** Verification tasks: marks the firmware verified when every device succeeded. */
  concludeVerification(input: { taskId: string; firmwareId: string }): Promise<{ verified: boolean }>;
}
