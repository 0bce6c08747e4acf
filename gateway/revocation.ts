/**
 * A device deleted from the registry loses its session and its commands. The
 * API deletes in another process, so three paths lead here: the API's notice on
 * the gateway's HTTP port (at once), a re-check of every live session against
 * the registry (within OTA_MQTT_IDENTITY_RECHECK_MS when a notice was lost), and
 * a registry read before each command is delivered (no command ever reaches a
 * device that is no longer registered).
 */
import type { Client } from 'aedes';
import type { DeviceRef } from '../orchestration/device-events';
import type { Logger } from '../runtime/log';
import type { LoginGuard } from './login-guard';
import type { GatewayMetrics } from './metrics';
import type { RegistryAccess } from './registry-access';
import type { Sessions } from './sessions';

export interface RevocationDeps {
  sessions: Sessions;
  registry: RegistryAccess;
  guard: LoginGuard;
  metrics: GatewayMetrics;
  log: Logger;
  /** Ends a session with a reason for the presence log. */
  end(client: Client, reason: string): void;
  intervalMs: number;
}

export class Revocation {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly deps: RevocationDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.recheckAll(), this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Whether the device is still registered; ends its session when not. Registry errors count as registered. */
  async stillRegistered(device: DeviceRef): Promise<boolean> {
    let record;
    try {
      record = await this.deps.registry.findForLogin(device);
    } catch (err) {
      // Availability over strictness for a moment: the periodic re-check catches up once the registry answers.
      this.deps.metrics.databaseErrors += 1;
      this.deps.log.error('could not re-check a device against the registry', { ...device, err });
      return true;
    }
    if (record) return true;
    this.revoke(device);
    return false;
  }

  /** The registry changed: re-check one device, or every live session (coalesced while one runs). */
  changed(device?: DeviceRef): Promise<unknown> {
    this.deps.guard.forgetUnknown();
    return device ? this.stillRegistered(device) : this.recheckAll();
  }

  recheckAll(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await Promise.all(this.deps.sessions.devices().map((d) => this.stillRegistered(d)));
      } while (this.again);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private revoke(device: DeviceRef): void {
    const client = this.deps.sessions.live(device);
    if (!client) return;
    this.deps.metrics.sessionsRevoked += 1;
    this.deps.log.warn('device no longer registered: closing its session', { ...device });
    this.deps.end(client, 'device removed from the registry');
  }
}
