/**
 * Device events that survive an orchestration outage. Each event is tried a
 * few times with backoff; if Temporal still does not take it, it goes to the
 * outbox in the database (db/event-outbox.ts), and a drain loop delivers the
 * outbox in order per device once Temporal answers again, and at start, so
 * that a gateway restarted during an outage loses nothing.
 *
 * A device's events keep their order: while a device has events in the
 * outbox, its new ones join the queue there instead of overtaking them.
 * The outbox is bounded by count; when it is full the oldest event is
 * dropped (counted and logged): the device workflows re-check presence and
 * versions on their own, so a dropped event delays an upgrade, where a
 * refused new one would lose the most recent state.
 */
import type { Db } from 'mongodb';
import {
  appendToOutbox,
  countOutboxFailure,
  nextOutboxSeq,
  oldestInOutbox,
  outboxDevices,
  outboxRowId,
  removeFromOutbox,
  type OutboxEvent,
  type OutboxRow,
} from '../db/event-outbox';
import type { DeviceEvents, DeviceRef } from '../orchestration/device-events';
import type { Logger } from '../runtime/log';
import type { GatewayMetrics } from './metrics';
import { KeyedSerialQueue, Limiter } from './serial';
import { deviceId } from './topics';

export interface OutboxOptions {
  /** Tries of a fresh event before it goes to the outbox. */
  attempts: number;
  /** Wait after the first failed try; doubled after each further one. */
  backoffMs: number;
  /** Events the outbox holds at most; past it the oldest is dropped. */
  maxEvents: number;
  /** How often the drain loop looks at the outbox. */
  drainIntervalMs: number;
}

export const DEFAULT_OUTBOX_OPTIONS: OutboxOptions = {
  attempts: 3,
  backoffMs: 250,
  maxEvents: 100_000,
  drainIntervalMs: 2_000,
};

/** Failed deliveries of one event, while others got through, before it is dropped as undeliverable. */
const MAX_FAILURES = 5;
/** Outbox rows read per drain round, and devices drained at once. */
const PAGE = 500;
const PARALLEL = 16;

export interface DurableEventsDeps {
  db: Db;
  gatewayId: string;
  metrics: GatewayMetrics;
  log: Logger;
  options?: Partial<OutboxOptions>;
}

export class DurableDeviceEvents implements DeviceEvents {
  /** Each device's deliveries and outbox writes, one at a time. */
  private readonly chains = new KeyedSerialQueue();
  /** Rows in the outbox per device id: a device listed here sends new events to the outbox too. */
  private readonly queued = new Map<string, number>();
  private readonly opts: OutboxOptions;
  private seq = 0;
  /** Set when an event could not be delivered: until a drain gets one through, new events skip the retries. */
  private unreachable = false;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(
    private readonly inner: DeviceEvents,
    private readonly deps: DurableEventsDeps,
  ) {
    this.opts = { ...DEFAULT_OUTBOX_OPTIONS, ...deps.options };
  }

  /** Reads what this gateway left in the outbox and starts draining it at once. */
  static async start(inner: DeviceEvents, deps: DurableEventsDeps): Promise<DurableDeviceEvents> {
    const events = new DurableDeviceEvents(inner, deps);
    events.seq = await nextOutboxSeq(deps.db, deps.gatewayId);
    for (const row of await outboxDevices(deps.db, deps.gatewayId)) events.count(deviceId(row.device), +1);
    if (events.depth > 0) deps.log.warn('device events left in the outbox: delivering them', { events: events.depth });
    events.schedule(0);
    return events;
  }

  get depth(): number {
    return this.deps.metrics.outbox.depth;
  }

  connected(device: DeviceRef, sessionSince?: number): Promise<void> {
    return this.tell(device, { kind: 'connected', ...(sessionSince !== undefined && { sessionSince }) });
  }
  disconnected(device: DeviceRef, reason: string): Promise<void> {
    return this.tell(device, { kind: 'disconnected', reason });
  }
  versionReported(device: DeviceRef, version: string): Promise<void> {
    return this.tell(device, { kind: 'versionReported', version });
  }
  progressReported(device: DeviceRef, step: number, desc: string): Promise<void> {
    return this.tell(device, { kind: 'progressReported', step, desc });
  }
  upgradeReplied(device: DeviceRef, commandId: string, code: number, message: string): Promise<void> {
    return this.tell(device, { kind: 'upgradeReplied', commandId, code, message });
  }
  /** A question with a deadline (the device's getversion): answered now or not at all, never queued. */
  firmwareRequested(device: DeviceRef) {
    return this.inner.firmwareRequested(device);
  }
  commandDelivered(device: DeviceRef, runId: string, targetVersion: string): void {
    this.inner.commandDelivered?.(device, runId, targetVersion);
  }

  /** Stops the drain loop; what is still in the outbox stays for the next start. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
    await this.chains.drain();
  }

  private tell(device: DeviceRef, event: OutboxEvent): Promise<void> {
    const id = deviceId(device);
    return this.chains.run(id, async () => {
      if (!this.unreachable && !this.queued.has(id) && (await this.deliverWithRetries(device, event))) return;
      await this.append(device, event);
    });
  }

  private async deliverWithRetries(device: DeviceRef, event: OutboxEvent): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deliver(device, event);
        return true;
      } catch (err) {
        this.deps.metrics.orchestrationErrors += 1;
        if (attempt >= this.opts.attempts) {
          this.unreachable = true;
          this.deps.log.warn('orchestration unreachable: keeping the device event in the outbox', {
            ...device,
            event: event.kind,
            err,
          });
          return false;
        }
        this.deps.metrics.outbox.retries += 1;
        await delay(this.opts.backoffMs * 2 ** (attempt - 1));
      }
    }
  }

  private deliver(device: DeviceRef, event: OutboxEvent): Promise<void> {
    switch (event.kind) {
      case 'connected':
        return this.inner.connected(device, event.sessionSince);
      case 'disconnected':
        return this.inner.disconnected(device, event.reason);
      case 'versionReported':
        return this.inner.versionReported(device, event.version);
      case 'progressReported':
        return this.inner.progressReported(device, event.step, event.desc);
      case 'upgradeReplied':
        return this.inner.upgradeReplied(device, event.commandId, event.code, event.message);
    }
  }

  private async append(device: DeviceRef, event: OutboxEvent): Promise<void> {
    const { db, gatewayId, metrics, log } = this.deps;
    try {
      while (this.depth >= this.opts.maxEvents) await this.dropOldest();
      const row: OutboxRow = { _id: outboxRowId(gatewayId, this.seq++), device, event, at: new Date(), failures: 0 };
      await appendToOutbox(db, row);
      this.count(deviceId(device), +1);
      metrics.outbox.appended += 1;
      this.schedule(this.opts.drainIntervalMs);
    } catch (err) {
      metrics.databaseErrors += 1;
      log.error('device event lost: neither the orchestration nor the outbox took it', {
        ...device,
        event: event.kind,
        err,
      });
    }
  }

  private async dropOldest(): Promise<void> {
    const [oldest] = await oldestInOutbox(this.deps.db, this.deps.gatewayId, 1);
    if (!oldest) {
      this.deps.metrics.outbox.depth = 0;
      return;
    }
    await this.drop(oldest, 'the outbox is full');
  }

  private async drop(row: OutboxRow, why: string): Promise<void> {
    if (!(await this.remove(row))) return;
    this.deps.metrics.outbox.dropped += 1;
    this.deps.log.error(`device event dropped: ${why}`, {
      ...row.device,
      event: row.event.kind,
      at: row.at,
      maxEvents: this.opts.maxEvents,
    });
  }

  private async remove(row: OutboxRow): Promise<boolean> {
    const removed = await removeFromOutbox(this.deps.db, row._id);
    if (removed) this.count(deviceId(row.device), -1);
    return removed;
  }

  private count(id: string, by: 1 | -1): void {
    const n = (this.queued.get(id) ?? 0) + by;
    if (n > 0) this.queued.set(id, n);
    else this.queued.delete(id);
    this.deps.metrics.outbox.depth = Math.max(0, this.deps.metrics.outbox.depth + by);
  }

  private schedule(afterMs: number): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.round = this.drainRound()
        .catch((err: unknown) => {
          this.deps.metrics.databaseErrors += 1;
          this.deps.log.error('could not read the device event outbox', { err });
        })
        .then((more) => {
          this.timer = undefined;
          if (this.depth > 0) this.schedule(more === true ? 0 : this.opts.drainIntervalMs);
        });
    }, afterMs);
  }

  /**
   * Delivers the oldest page, each device's events in order in its own chain; stops a device at its first
   * failure, and the whole round if nothing has got through yet (Temporal still down). Whether to go on at once.
   */
  private async drainRound(): Promise<boolean> {
    const page = await oldestInOutbox(this.deps.db, this.deps.gatewayId, PAGE);
    const byDevice = new Map<string, OutboxRow[]>();
    for (const row of page) byDevice.set(deviceId(row.device), [...(byDevice.get(deviceId(row.device)) ?? []), row]);
    let delivered = 0;
    let givenUp = false;
    const failed: OutboxRow[] = [];
    const limiter = new Limiter(PARALLEL);
    await Promise.all(
      [...byDevice].map(([id, rows]) =>
        limiter.run(() =>
          this.chains.run(id, async () => {
            for (const row of rows) {
              if (givenUp || this.stopped) return;
              try {
                await this.deliver(row.device, row.event);
              } catch {
                if (delivered === 0) givenUp = true;
                failed.push(row);
                return;
              }
              delivered += 1;
              this.deps.metrics.outbox.delivered += 1;
              await this.remove(row);
            }
          }),
        ),
      ),
    );
    if (delivered > 0) this.unreachable = false;
    // Only an event that fails while others get through is suspect; during an outage every event fails.
    if (delivered > 0) await Promise.all(failed.map((row) => this.countFailure(row)));
    if (delivered > 0) this.deps.log.info('device events delivered from the outbox', { delivered, left: this.depth });
    if (page.length === 0) {
      // Rows removed behind this gateway's back (by an operator): nothing is queued any more.
      this.queued.clear();
      this.deps.metrics.outbox.depth = 0;
    }
    return !givenUp && failed.length === 0 && page.length === PAGE;
  }

  private async countFailure(row: OutboxRow): Promise<void> {
    if (row.failures + 1 >= MAX_FAILURES) return this.drop(row, `undeliverable after ${MAX_FAILURES} tries`);
    await countOutboxFailure(this.deps.db, row._id);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
