/**
 * The task workflow's state and message handlers. The handlers only record
 * what arrived; the workflow's loops act on it. What survives continue-as-new
 * (`carry()`) is small: a cursor, counters, the bounded set of devices in
 * flight and the finishes this run counted — never the device list itself,
 * which lives in MongoDB.
 */
import * as wf from '@temporalio/workflow';
import { autoPauseReason, emptyTally, type AutoPausePolicy, type Tally } from '../domain/auto-pause';
import type { Bucket } from '../domain/rate-limit';
import type { StageState } from '../domain/stages';
import type { TaskStatus } from '../domain/types';
import {
  cancelTask,
  deviceFinished,
  devicesAdded,
  devicesFinished,
  devicesReady,
  devicesReported,
  pauseTask,
  resumeTask,
  taskProgress,
  type FinishedDevice,
  type ReportedDevice,
} from './messages';

export interface CarriedTaskState {
  prepared: boolean;
  cursorMs: number;
  inFlight: string[];
  finished: number;
  paused: boolean;
  devicesPaused: boolean;
  pauseReason: string | null;
  tally: Tally;
  succeeded: number;
  bucket?: Bucket;
  stage?: StageState;
  cancelReason: string | null;
  status: TaskStatus;
  runs: number;
  reported: ReportedDevice[];
  /** Where the next claim reads on in the waiting records (db/records.ts `pushableRecords`). */
  claimedUpTo?: string | null;
  /** The finishes this run counted (`deviceKey@attempt`): a late repeat in the next run counts no more. */
  counted: string[];
}

export class TaskState {
  prepared: boolean;
  cursorMs: number;
  readonly inFlight: Set<string>;
  finished: number;
  paused: boolean;
  /** What the running device workflows were last told: they hold their pushes while it is true. */
  devicesPaused: boolean;
  pauseReason: string | null;
  /** Devices that succeeded or failed since the task started or was last resumed (auto-pause judges these). */
  tally: Tally;
  /** Devices that succeeded, ever (a rate limit's ramp follows these). */
  succeeded: number;
  /** A rate-limited task's saved-up starts. */
  bucket: Bucket | undefined;
  /** A staged task's progress through its first stage. */
  stage: StageState | undefined;
  cancelReason: string | null;
  status: TaskStatus;
  runs: number;
  /** Signals' hints: waiting devices may be pushable; devices may have joined (rescan). */
  mayHavePushable = true;
  /** The last waiting record a claim looked at: the next one reads on from there (null: from the first). */
  claimedUpTo: string | null;
  /** Resets of `claimedUpTo`: one during a claim outlives the claim's own cursor. */
  cursorResets = 0;
  rescanWanted = true;
  /** Records closed (devices finished or skipped): the completion watch counts open ones after a change. */
  closedRecords = 0;
  /** No record of a snapshot task is open any more. */
  completed = false;
  /** The run is ending (cancelled, completed, end time, continue-as-new): the loops return. */
  stopping = false;
  /** The task itself is ending (cancelled, completed, end time), not only this run. */
  closing = false;
  /** The operator's record changes (retry, cancel one device) begun in this run. */
  operatorChanges = 0;
  /** Devices the gateway saw report a source version, to admit (increment tasks). */
  reported: ReportedDevice[];
  /**
   * Devices that finished while the claim that started them was still in
   * flight: their finish can arrive before the activity's
   * result, and must not be added to `inFlight` afterwards (a leaked slot
   * would keep the task from ever completing). Only one claim runs at a time
   * and continue-as-new happens between claims, so this is never carried.
   */
  readonly finishedEarly = new Set<string>();
  /**
   * The finishes counted (`deviceKey@attempt`), in this run and the one before: a finish is
   * told again when the device's finishing activity is retried after it signalled, and counts
   * once. Bounded: a run continues as new after counting so many (upgrade-task.ts).
   */
  private readonly counted: Set<string>;
  private readonly countedBefore: ReadonlySet<string>;
  claiming = false;
  /** The stored task status matches `status` (after continue-as-new it already does). */
  statusWritten: boolean;

  constructor(
    readonly taskId: string,
    carried: CarriedTaskState | undefined,
    private readonly autoPause?: AutoPausePolicy,
  ) {
    this.prepared = carried?.prepared ?? false;
    this.cursorMs = carried?.cursorMs ?? 0;
    this.inFlight = new Set(carried?.inFlight ?? []);
    this.finished = carried?.finished ?? 0;
    this.paused = carried?.paused ?? false;
    this.devicesPaused = carried?.devicesPaused ?? false;
    this.pauseReason = carried?.pauseReason ?? null;
    this.tally = carried?.tally ?? emptyTally();
    this.succeeded = carried?.succeeded ?? 0;
    this.bucket = carried?.bucket;
    this.stage = carried?.stage;
    this.cancelReason = carried?.cancelReason ?? null;
    this.status = carried?.status ?? 'waiting';
    this.runs = (carried?.runs ?? 0) + 1;
    this.statusWritten = carried !== undefined;
    this.reported = [...(carried?.reported ?? [])];
    this.claimedUpTo = carried?.claimedUpTo ?? null;
    this.counted = new Set();
    this.countedBefore = new Set(carried?.counted ?? []);

    wf.setHandler(deviceFinished, (finish) => this.finishedDevice(finish));
    wf.setHandler(devicesFinished, ({ finishes }) => {
      for (const finish of finishes) this.finishedDevice(finish);
    });
    wf.setHandler(devicesReady, () => this.mayHaveAnyPushable());
    wf.setHandler(devicesAdded, () => {
      this.rescanWanted = true;
    });
    wf.setHandler(devicesReported, ({ devices }) => {
      this.reported.push(...devices);
    });
    wf.setHandler(pauseTask, () => {
      if (!this.paused) this.pauseFor('paused by an operator');
    });
    wf.setHandler(resumeTask, () => {
      this.paused = false;
      this.pauseReason = null;
      // Auto-pause judges what happens after the operator's look, not the failures that caused it.
      this.tally = emptyTally();
      this.mayHaveAnyPushable();
    });
    wf.setHandler(cancelTask, ({ reason }) => {
      this.cancelReason ??= reason;
    });
    wf.setHandler(taskProgress, () => ({
      taskId: this.taskId,
      status: this.status,
      inFlight: this.inFlight.size,
      finished: this.finished,
      succeeded: this.succeeded,
      runs: this.runs,
    }));
  }

  /**
   * Any waiting record may be pushable, also one behind the claims' cursor (a device came back, a record
   * waits again): the next claim reads from the first. A freed slot alone does not reset it.
   */
  mayHaveAnyPushable(): void {
    this.mayHavePushable = true;
    this.claimedUpTo = null;
    this.cursorResets += 1;
  }

  /** A device's part ended: its slot is free, and a first report of it counts (a repeat changes nothing). */
  private finishedDevice({ deviceKey, outcome, attempt }: FinishedDevice): void {
    const closes = outcome !== 'deferred' && outcome !== 'expired';
    // A repeat changes nothing: not the counts, nor the slot of a later attempt of the device.
    if (closes && !this.countOnce(`${deviceKey}@${attempt}`)) return;
    const wasInFlight = this.inFlight.delete(deviceKey);
    if (!wasInFlight && this.claiming) this.finishedEarly.add(deviceKey);
    if (closes) this.finished += 1;
    if (outcome === 'success' || outcome === 'failure') this.countResult(outcome === 'success');
    // A freed slot may let another waiting device go; a deferred one waits for its reconnect hint.
    if (wasInFlight && outcome !== 'deferred') this.mayHavePushable = true;
    this.closedRecords += 1;
  }

  /** Finishes this run counted: their keys go into the next run. */
  get countedThisRun(): number {
    return this.counted.size;
  }

  /** True the first time a finish is heard, false for a repeat of one already counted. */
  private countOnce(key: string): boolean {
    if (this.counted.has(key) || this.countedBefore.has(key)) return false;
    this.counted.add(key);
    return true;
  }

  /** A device's success or failure: for auto-pause, a rate's ramp and the first stage. */
  private countResult(succeeded: boolean): void {
    this.tally[succeeded ? 'succeeded' : 'failed'] += 1;
    if (succeeded) this.succeeded += 1;
    if (this.stage?.phase === 'first') {
      this.stage.finished += 1;
      if (succeeded) this.stage.succeeded += 1;
    }
    const autoPause = this.paused || !this.autoPause ? null : autoPauseReason(this.autoPause, this.tally);
    if (autoPause) this.pauseFor(autoPause);
  }

  private taskWrites: Promise<unknown> = Promise.resolve();

  /**
   * The task document's writes (status, stage phase), one after another although the loops run
   * side by side: the embedded FerretDB applies an update as a read and a write of the whole
   * document, so two at once can lose one.
   */
  writeTask<T>(write: () => Promise<T>): Promise<T> {
    const next = this.taskWrites.then(write);
    this.taskWrites = next.catch(() => undefined);
    return next;
  }

  pauseFor(reason: string): void {
    this.paused = true;
    this.pauseReason = reason;
  }

  get cancelled(): boolean {
    return this.cancelReason !== null;
  }

  carry(): CarriedTaskState {
    return {
      prepared: this.prepared,
      cursorMs: this.cursorMs,
      inFlight: [...this.inFlight],
      finished: this.finished,
      paused: this.paused,
      devicesPaused: this.devicesPaused,
      pauseReason: this.pauseReason,
      tally: { ...this.tally },
      succeeded: this.succeeded,
      ...(this.bucket ? { bucket: { ...this.bucket } } : {}),
      ...(this.stage ? { stage: { ...this.stage } } : {}),
      cancelReason: this.cancelReason,
      status: this.status,
      runs: this.runs,
      reported: [...this.reported],
      claimedUpTo: this.claimedUpTo,
      counted: [...this.counted],
    };
  }
}
