/**
 * Where one device's upgrade stands, as plain data: what a device workflow carries into its
 * next run when it continues as new, so the new run picks the story up where the last one
 * stopped.
 */
import type { Report } from '../domain/progress';
import type { RecordStatus, WaitReason } from '../domain/types';

/** The device's side of the conversation, and the workflow's view of its record. */
export interface SessionState {
  online: boolean;
  /** Reports received and not yet taken. */
  reports: Report[];
  cancelReason: string | null;
  taskPaused: boolean;
  status: RecordStatus;
  progress: number;
  /** This attempt's number in the task (command ids carry it). */
  attempt: number;
  /** Attempts made in the task by earlier runs (an operator's retry, a re-admission): this one's are counted after them. */
  attemptsBefore: number;
  /** Request mode: the offer is open to the device. */
  offering: boolean;
  lastReply: { commandId: string; code: number; message: string } | null;
  /** The worker's re-check period (seconds), read once when the upgrade starts. */
  recheckS: number;
  /** The session that took the last command, as its gateway named it (null: not named). */
  commandSession: number | null;
}

/** One stage of an attempt, with what the workflow must remember while it waits in it. */
export type Stage =
  /** Request mode: the offer is open until the device takes it up (its first progress report) or it expires. */
  | { kind: 'offered'; expiresAtMs: number }
  /** The command is out: the device's reports decide, or the timeout does. */
  | {
      kind: 'following';
      /** The device has reported progress for this attempt. */
      started: boolean;
      /** Timeout of the attempt; null while a device that has not started is offline (the clock stops). */
      deadlineMs: number | null;
      /** Push mode: the device reconnected before starting; the command goes out again when it may. */
      repushWanted: boolean;
      /** The record already says that the re-push is held by the task's pause. */
      holdRecorded: boolean;
    }
  /** A success that counts only once the device has stayed on the new version until `untilMs`. */
  | { kind: 'soaking'; untilMs: number; how: string }
  /** A failed attempt: the next one waits for the interval, then for the device, the window and the task. */
  | { kind: 'retrying'; notBeforeMs: number; waitingFor: WaitReason | null };

export interface DeviceCarried {
  session: SessionState;
  stage: Stage;
}
