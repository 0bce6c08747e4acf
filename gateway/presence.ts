/**
 * Online/offline and last-seen, in the registry and towards the orchestration.
 * The registry applies a device's writes in order (registry-access.ts); the
 * orchestration hears of each change, in the same order, once it is stored.
 */
import { notifyOrchestration } from './notify';
import { onlineFields, seenFields } from '../db/device-presence';
import type { DeviceEvents, DeviceRef } from '../orchestration/device-events';
import type { Logger } from '../runtime/log';
import type { GatewayMetrics } from './metrics';
import type { RegistryAccess } from './registry-access';
import type { KeyedSerialQueue } from './serial';
import { deviceId } from './topics';

/** lastSeenAt is refreshed at most this often per device by ordinary messages (a DB write each time). */
export const TOUCH_INTERVAL_MS = 30_000;

export interface PresenceDeps {
  registry: RegistryAccess;
  events: DeviceEvents;
  queue: KeyedSerialQueue;
  metrics: GatewayMetrics;
  log: Logger;
  /** Written with "online", so that this gateway's next run can tell which devices it left online. */
  gatewayId: string;
  /** The gateway presence names for the device now (db/presence.ts), or null when it is offline. */
  sessionGateway(device: DeviceRef): Promise<string | null>;
}

export class Presence {
  private readonly lastWrite = new Map<string, number>();

  constructor(private readonly deps: PresenceDeps) {}

  /** `sessionSince`: when the session started (Sessions), which the orchestration hears with it. */
  connected(device: DeviceRef, sessionSince?: number): Promise<void> {
    const id = deviceId(device);
    this.lastWrite.set(id, Date.now());
    const stored = this.write(
      device,
      'online',
      this.deps.registry.update(device, onlineFields(true, new Date(), this.deps.gatewayId)),
    );
    // Told once the registry has it (in order with this device's other presence events): the registry
    // is the one record of presence that the orchestration reads when it decides whom to push.
    return this.deps.queue.run(id, async () => {
      await stored;
      await this.notify(device, 'connected', () => this.deps.events.connected(device, sessionSince));
    });
  }

  disconnected(device: DeviceRef, reason: string): Promise<void> {
    const id = deviceId(device);
    this.lastWrite.delete(id);
    const stored = this.write(
      device,
      'offline',
      this.deps.registry.update(device, onlineFields(false, new Date(), this.deps.gatewayId)),
    );
    return this.deps.queue.run(id, async () => {
      await stored;
      // Moved to another gateway before this session ended: that one tells the device's story now.
      if (await this.heldElsewhere(device)) {
        this.deps.log.debug('older session ended on this gateway; the device is connected elsewhere', { ...device });
        return;
      }
      await this.notify(device, 'disconnected', () => this.deps.events.disconnected(device, reason));
    });
  }

  /** Any upstream message shows the device is alive; throttled so chatty devices cost few writes. */
  seen(device: DeviceRef): void {
    const id = deviceId(device);
    const now = Date.now();
    if (now - (this.lastWrite.get(id) ?? 0) < TOUCH_INTERVAL_MS) return;
    this.lastWrite.set(id, now);
    void this.write(device, 'last seen', this.deps.registry.update(device, seenFields(new Date())));
  }

  /** A version report writes lastSeenAt as well, so it counts as a touch. */
  versionStored(device: DeviceRef): void {
    this.lastWrite.set(deviceId(device), Date.now());
  }

  private async heldElsewhere(device: DeviceRef): Promise<boolean> {
    try {
      const holder = await this.deps.sessionGateway(device);
      return holder !== null && holder !== this.deps.gatewayId;
    } catch (err) {
      // Unsure: tell the workflow; it re-checks presence on its own.
      this.deps.metrics.databaseErrors += 1;
      this.deps.log.error('could not read presence', { ...device, err });
      return false;
    }
  }

  /** Writes start at once (so the registry can merge them); events wait for them in the device's queue. */
  private async write(device: DeviceRef, what: string, op: Promise<void>): Promise<void> {
    try {
      await op;
    } catch (err) {
      this.deps.metrics.databaseErrors += 1;
      this.deps.log.error(`could not store ${what}`, { ...device, err });
    }
  }

  private notify(device: DeviceRef, what: string, op: () => Promise<void>): Promise<void> {
    return notifyOrchestration(this.deps, device, what, op);
  }
}
