/**
 * What the workflows ask of the outside world. Types only: workflows import
 * this module with `import type`, the worker provides the implementations
 * (activities/*.ts), and workflow tests may provide their own.
 */
import type { FirmwareOffer, RecordStatus, Strategy, TaskStatus } from '../domain/types';
import type { CommandDelivery } from './gateway-contracts';
import type { StageState } from '../domain/stages';
import type {
  AdmissionSettings,
  DeviceCancellation,
  DeviceOutcome,
  DeviceStartSettings,
  RecordUpdate,
  ReportedDevice,
} from '../domain/rollout';

/** The device's record in the task as the claim found it, and the device's presence: facts, the workflow decides. */
export interface Claim {
  /** The record's status before the claim; null when the device has no record in the task. */
  status: RecordStatus | null;
  /** The version the device was admitted on. */
  fromVersion: string | null;
  /** Pushes of this device in this task by earlier runs (an operator's retry, a re-admission). */
  attempts: number;
  online: boolean;
  /** The gateway holding the device's session now (null: none): where its first command goes. */
  gatewayId: string | null;
  /** The worker's re-check period for waiting device workflows (config), read with the claim to save a step. */
  recheckS: number;
  /**
   * This very run took the record before: the workflow task that did was lost with its worker,
   * after its later steps had written the record. The record is ours whatever its status says.
   */
  retaken: boolean;
  /** The first command, when the claim handed it over (asked with `pushWith`; domain/first-push.ts). */
  firstPush?: FirstPush;
}

/** A first command handed over with the claim, to the gateway presence named. */
export interface FirstPush {
  /** The attempt it opened: the command id's, and the `pushed` record's (written when delivered). */
  attempt: number;
  gatewayId: string;
  /** `failed`: the gateway did not answer or is not in the directory (`reason`); the workflow asks presence again. */
  delivery: CommandDelivery | 'failed';
  /** With `delivered`: the session that took it (CommandHandover.sessionSince). */
  sessionSince?: number;
  reason?: string;
}

/** The registry's view of a device now. */
export interface DeviceNow {
  online: boolean;
  /** The version the device last reported. */
  version: string | null;
}

export interface DeviceActivities {
  /**
   * Takes the device's record over for this workflow when it waits to be pushed (`inWorkflow`:
   * the task never starts it twice); a record in any other state is left alone. With `join`, a
   * device asking for firmware that has no record in the task yet is admitted first
   * (domain/admission.ts; the gateway has checked that it qualifies). With `pushWith`, the first
   * command goes out with the claim when the claim allows it (`Claim.firstPush`).
   */
  claimRecord(input: {
    taskId: string;
    productKey: string;
    deviceKey: string;
    /** The run that claims: it may take the record again, whatever its status (Claim.retaken). */
    runId: string;
    join?: { strategy: Strategy; toVersion: string };
    /**
     * A push: the firmware whose command goes out with the claim when domain/first-push.ts allows
     * it, and the workflow's time for the record's `pushed` entry (ISO 8601).
     */
    pushWith?: { firmware: FirmwareOffer; at: string };
  }): Promise<Claim>;
  /** Request tasks: takes one of the task's slots for the device (db/offer-slots.ts); false when all are taken. */
  takeOfferSlot(input: { taskId: string; deviceKey: string; limit: number }): Promise<boolean>;
  /** Presence and reported version from the registry: what the device's events said, should one have been lost. */
  lookUpDevice(input: { productKey: string; deviceKey: string }): Promise<DeviceNow>;
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
    opts: { attempt: number; releaseOfferSlot: boolean },
  ): Promise<void>;
}

export interface StartResult {
  /** Device workflows started (or found already running for this task). */
  started: string[];
  /** Records closed without a workflow: busy in another task, already on target. */
  skipped: number;
  /** Fewer pushable records than asked for: nothing more to claim right now. */
  exhausted: boolean;
  /** The last waiting record looked at: the next claim reads on from it (db/records.ts `pushableRecords`). */
  lastKey: string | null;
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
  startPushableDevices(input: { device: DeviceStartSettings; limit: number; after?: string }): Promise<StartResult>;
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
