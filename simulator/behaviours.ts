/**
 * What a device does, per behaviour, following the EnOS device SDK samples:
 * inform the current version after every connect; on an upgrade command report
 * progress synchronously, then inform the new version; never send upgrade_reply
 * (neither sample does).
 */
import type { SharedClock } from './clock';
import type { SimulatedDevice } from './device';
import { download, isSignedDownloadUrl, signMatches } from './download';
import type { Behaviour } from './types';

/** EnOS progress failure codes (OTAUpdateFailureCause). */
const DOWNLOAD_FAILED = -2;
const VERIFICATION_FAILED = -3;

const DEFAULT_STEPS = [20, 50, 80, 100];
const DEFAULT_STEP_DELAY_MS = 200;

export class DeviceRunner {
  private upgrading = false;
  private stopped = false;

  constructor(
    readonly device: SimulatedDevice,
    private readonly behaviour: Behaviour,
    private readonly clock: SharedClock,
  ) {
    device.onCommand = (command) => {
      const version = typeof command.params.version === 'string' ? command.params.version : undefined;
      if (version) void this.upgrade(version, command.params);
    };
  }

  /** The behaviour that runs once the device is online (offline is only a delay before connecting). */
  private get active(): Behaviour {
    return this.behaviour.kind === 'offline' ? (this.behaviour.then ?? { kind: 'succeed' }) : this.behaviour;
  }

  /** Connects (after the offline period, if any) and reports the version like the SDK samples. */
  async start(connectSlot: <T>(task: () => Promise<T>) => Promise<T>): Promise<boolean> {
    if (this.behaviour.kind === 'offline') await this.clock.sleep(this.behaviour.forMs);
    if (this.stopped) return false;
    const ok = await connectSlot(() => this.device.connect());
    // A refused first login is retried by an auto-reconnecting device: it informs once it gets in.
    if (ok || (this.device.reconnects && (await this.device.whenOnline()))) await this.announce();
    return ok;
  }

  stop(): void {
    this.stopped = true;
  }

  private async announce(): Promise<void> {
    await this.device.inform(this.device.record.version);
    if (this.active.kind !== 'request' || this.upgrading) return;
    const reply = await this.device.getversion();
    const offers = Array.isArray(reply?.data) ? reply.data : [];
    // The Java sample takes the last element of data.
    const last: unknown = offers[offers.length - 1];
    const version = typeof last === 'object' && last !== null ? (last as { version?: unknown }).version : undefined;
    // The offer carries the file fields like a pushed command's params.
    if (typeof version === 'string') await this.upgrade(version, last as Record<string, unknown>);
    else this.device.setOutcome('no-offer');
  }

  private async upgrade(target: string, params: Record<string, unknown> = {}): Promise<void> {
    // A second command while one runs is a repeat of the same push (at-least-once); one upgrade at a time.
    if (this.upgrading || this.stopped) return;
    this.upgrading = true;
    const record = this.device.record;
    this.device.setOutcome('upgrading');
    try {
      const b = this.active;
      if (b.kind !== 'silent' && b.kind !== 'decline' && !(await this.fetchFirmware(params))) return;
      switch (b.kind) {
        case 'silent':
          this.device.setOutcome('silent');
          return;
        case 'decline':
          await this.device.progress(-5, '');
          this.device.setOutcome('declined');
          return;
        case 'fail':
          await this.steps(b.stepsBefore ?? [20], b.stepDelayMs);
          await this.device.progress(b.code, `failed with ${b.code}`);
          this.device.setOutcome('failed');
          return;
        case 'drop':
          await this.steps(b.stepsBefore ?? [20], b.stepDelayMs);
          this.device.setOutcome('dropped');
          this.device.drop();
          await this.clock.sleep(b.reconnectAfterMs);
          if (b.comeBackOn === 'new') record.version = target;
          if (!this.stopped && (await this.device.connect())) await this.device.inform(record.version);
          return;
        case 'request':
          await this.finish(target, [20, 80], b.stepDelayMs);
          return;
        case 'slow':
          await this.clock.sleep(b.downloadMs);
          await this.finish(target, b.steps ?? DEFAULT_STEPS, b.stepDelayMs);
          return;
        case 'succeed':
          await this.finish(target, b.steps ?? DEFAULT_STEPS, b.stepDelayMs);
          return;
        case 'offline':
          // Only when `then` is itself offline: after the period, a plain success.
          await this.finish(target, DEFAULT_STEPS, undefined);
          return;
      }
    } finally {
      this.upgrading = false;
    }
  }

  /**
   * Downloads and checks the file when the command carries a signed URL of
   * ours (other URLs are not fetched: the simulator only pretends to install).
   * On failure reports the EnOS code (-2 download, -3 verification) and
   * returns false.
   */
  private async fetchFirmware(params: Record<string, unknown>): Promise<boolean> {
    if (!isSignedDownloadUrl(params.fileUrl)) return true;
    const url = params.fileUrl;
    const record = { url, attempts: [], bytes: 0, result: 'failed' as const };
    try {
      const got = await download(url, { cutAfterBytes: this.device.spec.cutDownloadAfterBytes });
      const verified = signMatches(got.bytes, params.signMethod, params.sign);
      this.device.record.downloads.push({
        ...record,
        attempts: got.attempts,
        bytes: got.bytes.length,
        result: verified ? 'verified' : 'bad-sign',
      });
      if (verified) return true;
      await this.device.progress(VERIFICATION_FAILED, 'firmware verification failed: sign mismatch');
    } catch (error) {
      this.device.record.downloads.push(record);
      await this.device.progress(DOWNLOAD_FAILED, `firmware download failed: ${(error as Error).message}`);
    }
    this.device.setOutcome('failed');
    return false;
  }

  private async finish(target: string, steps: number[], delayMs: number | undefined): Promise<void> {
    if (!(await this.steps(steps, delayMs))) return;
    this.device.record.version = target;
    await this.device.inform(target);
    this.device.setOutcome('succeeded');
  }

  /** Sends each step after its delay; false when the connection went away meanwhile. */
  private async steps(steps: number[], delayMs = DEFAULT_STEP_DELAY_MS): Promise<boolean> {
    for (const step of steps) {
      await this.clock.sleep(delayMs);
      // An auto-reconnecting device keeps installing while offline; its report waits for the connection.
      if (this.stopped || (!this.device.record.online && !this.device.reconnects)) return false;
      await this.device.progress(step, `step ${step}`);
    }
    return true;
  }
}
