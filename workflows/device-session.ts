/**
 * The device workflow's mailbox: signal and update handlers that only record
 * what arrived, so the workflow body can take reports in order and read as a
 * story. Its state is plain data (workflows/device-state.ts), carried whole
 * into the next run when the workflow continues as new.
 */
import * as wf from '@temporalio/workflow';
import type { DeviceUpgradeInput } from './messages';
import type { Report } from '../domain/progress';
import type { RecordStatus } from '../domain/types';
import type { SessionState } from './device-state';
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

/** Until the worker's setting is read (the first step of an upgrade). */
const DEFAULT_RECHECK_S = 60;

export class DeviceSession implements SessionState {
  online = false;
  /** Presence signals seen in this run; lets the body tell whether a registry read is older than a signal. */
  presenceSignals = 0;
  /** Disconnects heard in this run (a step compares counts, so it is not carried). */
  disconnects = 0;
  reports: Report[] = [];
  cancelReason: string | null = null;
  /** The task is paused: hold every push until it resumes. */
  taskPaused = false;
  status: RecordStatus = 'to_be_pushed';
  progress = 0;
  attempt = 0;
  attemptsBefore = 0;
  /** Request mode: the offer is open to the device (from the start: the workflow exists to make it). */
  offering: boolean;
  lastReply: SessionState['lastReply'] = null;
  recheckS = DEFAULT_RECHECK_S;
  /** The session that took the last command (its gateway's name for it), if the gateway named it. */
  commandSession: number | null = null;
  /**
   * The gateway the claim saw holding the device's session, for the first command only (any
   * presence signal makes it stale); not carried into a continued run.
   */
  sessionGateway: string | null = null;
  /**
   * Request mode: a getversion waits for the claim, which takes one of the task's slots (its
   * concurrency limit). A continued run has long decided.
   */
  offerDecided: boolean;
  offerRefusal: string | null = null;

  constructor(
    private readonly input: DeviceUpgradeInput,
    carried?: SessionState,
  ) {
    this.offering = input.method === 'request';
    this.offerDecided = input.method !== 'request' || carried !== undefined;
    if (carried) Object.assign(this, carried);
    wf.setHandler(devicePresence, ({ online, sessionSince }) => {
      // The connect of the session that took the command, heard only now: no reconnect, no news.
      if (online && sessionSince !== undefined && sessionSince === this.commandSession) return;
      this.online = online;
      this.presenceSignals += 1;
      if (!online) this.disconnects += 1;
      this.sessionGateway = null;
      this.queue(
        online ? { kind: 'online', ...(sessionSince !== undefined && { sessionSince }) } : { kind: 'offline' },
      );
    });
    wf.setHandler(deviceProgress, ({ step, desc }) => {
      this.queue({ kind: 'progress', step, desc });
    });
    wf.setHandler(deviceVersion, ({ version }) => {
      this.queue({ kind: 'version', version });
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

  /** The gateway the claim saw, once: a later command asks presence again. */
  takeSessionGateway(): string | null {
    const gatewayId = this.sessionGateway;
    this.sessionGateway = null;
    return gatewayId;
  }

  takeReport(): Report | undefined {
    return this.reports.shift();
  }

  /**
   * A command went to the session `session`: the reconnect that opened it is no reason to push
   * again, whether it was heard already or comes later. With no disconnect heard while the
   * command went out, any reconnect heard so far opened that session (often the reconnect that
   * got the device started).
   */
  commandTaken(session: number | null, { disconnectHeard }: { disconnectHeard: boolean }): void {
    this.commandSession = session;
    this.reports = this.reports.filter(
      (r) => r.kind !== 'online' || (disconnectHeard && (session === null || r.sessionSince !== session)),
    );
  }

  /**
   * What a registry read says that no signal did (a device event the gateway lost): a change of
   * presence, or the target version reported. Queued as if the device had said it.
   */
  observe(
    device: { online: boolean; version: string | null },
    targetVersion: string,
    trust: { presence: boolean },
  ): void {
    if (trust.presence && device.online !== this.online) {
      this.online = device.online;
      this.queue({ kind: device.online ? 'online' : 'offline' });
    }
    const heard = this.reports.some((r) => r.kind === 'version' && r.version === targetVersion);
    if (device.version === targetVersion && !heard) this.queue({ kind: 'version', version: targetVersion });
  }

  /** The state a continued run starts from. */
  carry(): SessionState {
    const { online, reports, cancelReason, taskPaused, status, progress, attempt, attemptsBefore } = this;
    const { offering, lastReply, recheckS, commandSession } = this;
    return {
      online,
      reports,
      cancelReason,
      taskPaused,
      status,
      progress,
      attempt,
      attemptsBefore,
      offering,
      lastReply,
      recheckS,
      commandSession,
    };
  }

  /**
   * A chatty device cannot grow the queue: of consecutive progress steps, or of consecutive
   * presence changes, only the newest can change what the body decides (a step ends the
   * attempt only when it is 100 or negative, and then it is the newest; a re-push waits for
   * the device to be online anyway).
   */
  private queue(report: Report): void {
    const last = this.reports[this.reports.length - 1];
    if (last && replaceable(last, report)) this.reports[this.reports.length - 1] = report;
    else this.reports.push(report);
  }
}

function replaceable(queued: Report, next: Report): boolean {
  if (queued.kind === 'progress') return next.kind === 'progress' && queued.step >= 0 && queued.step < 100;
  const presence = (r: Report) => r.kind === 'online' || r.kind === 'offline';
  return presence(queued) && presence(next);
}
