/**
 * The device workflow's mailbox: signal and update handlers that only record
 * what arrived, so the workflow body can take reports one at a time, in order,
 * and read as a story.
 */
import * as wf from '@temporalio/workflow';
import type { DeviceUpgradeInput } from './messages';
import type { Report } from '../domain/progress';
import type { RecordStatus } from '../domain/types';
import {
  cancelDeviceUpgrade,
  devicePresence,
  deviceProgress,
  deviceUpgradeReply,
  deviceUpgradeState,
  deviceVersion,
  requestFirmware,
  taskPauseChanged,
} from './messages';

export class DeviceSession {
  online = false;
  /** Presence signals seen; lets the body tell whether a registry read is older than a signal. */
  presenceSignals = 0;
  readonly reports: Report[] = [];
  cancelReason: string | null = null;
  /** The task is paused: hold every push until it resumes. */
  taskPaused = false;
  status: RecordStatus = 'to_be_pushed';
  progress = 0;
  attempt = 0;
  /** Request mode: the offer is open to the device (from the start: the workflow exists to make it). */
  offering: boolean;
  lastReply: { commandId: string; code: number; message: string } | null = null;
  /**
   * Request mode: an offer waits for the claim, which takes one of the task's slots (its
   * concurrency limit).
   */
  offerDecided: boolean;
  offerRefusal: string | null = null;

  constructor(private readonly input: DeviceUpgradeInput) {
    this.offering = input.method === 'request';
    this.offerDecided = input.method !== 'request';
    wf.setHandler(devicePresence, ({ online }) => {
      this.online = online;
      this.presenceSignals += 1;
      this.reports.push({ kind: online ? 'online' : 'offline' });
    });
    wf.setHandler(deviceProgress, ({ step, desc }) => {
      this.reports.push({ kind: 'progress', step, desc });
    });
    wf.setHandler(deviceVersion, ({ version }) => {
      this.reports.push({ kind: 'version', version });
    });
    wf.setHandler(deviceUpgradeReply, (reply) => {
      this.lastReply = reply;
    });
    wf.setHandler(taskPauseChanged, ({ taskId, paused }) => {
      if (taskId === this.input.taskId) this.taskPaused = paused;
    });
    wf.setHandler(cancelDeviceUpgrade, ({ reason, taskId }) => {
      if (taskId === this.input.taskId) this.cancelReason ??= reason;
    });
    wf.setHandler(
      requestFirmware,
      async () => {
        if (!this.offerDecided) await wf.condition(() => this.offerDecided);
        if (this.offerRefusal) throw wf.ApplicationFailure.nonRetryable(this.offerRefusal, 'OfferRefused');
        return [this.input.firmware];
      },
      {
        // Synchronous, so a refusal writes nothing to history (an update validator's rejection is not recorded).
        validator: ({ taskId }) => {
          if (taskId !== this.input.taskId || this.input.method !== 'request') {
            throw new Error(`device is busy: being upgraded by task ${this.input.taskId}`);
          }
          if (!this.offering) throw new Error('no offer is open for this device right now');
          if (this.offerRefusal) throw new Error(this.offerRefusal);
        },
      },
    );
    wf.setHandler(deviceUpgradeState, () => ({
      taskId: this.input.taskId,
      status: this.status,
      progress: this.progress,
      attempt: this.attempt,
      online: this.online,
      taskPaused: this.taskPaused,
    }));
  }

  /** Settles what the device's getversion hears: the offer, or why not. */
  decideOffer(refusal: string | null): void {
    if (this.offerDecided) return;
    this.offerDecided = true;
    this.offerRefusal = refusal;
  }

  get cancelled(): boolean {
    return this.cancelReason !== null;
  }

  /** Drops queued reports (e.g. a version re-inform while waiting to be pushed). */
  takeReport(): Report | undefined {
    return this.reports.shift();
  }
}
