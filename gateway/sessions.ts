/**
 * Who is behind each MQTT client, and which client is a device's live session.
 * The newest authenticated session of a device is its session; an older one
 * closing later must not mark the device offline. An activation session
 * (securemode=3) is identified but never becomes the device's session.
 */
import type { Client } from 'aedes';
import type { DeviceRef } from '../orchestration/device-events';
import type { PayloadCodec } from './codec';
import { deviceId } from './topics';

export interface DeviceIdentity {
  kind: 'device';
  device: DeviceRef;
  id: string;
  /**
   * When the session started (ms, this gateway's clock, unique among the device's sessions
   * here): a command's delivery and the session's "connected" event both carry it, so the
   * device's workflow can tell the session that took its command from a later one.
   */
  since: number;
  /** The session's payload compression (Java 2.x `compress=`); absent for raw JSON. */
  codec?: PayloadCodec;
}

/** A device that logged in with its product's secret to be given its own (dynamic activation). */
export interface ActivationIdentity {
  kind: 'activation';
  device: DeviceRef;
  /** What the session is there to receive (from the registry at login); never logged. */
  deviceSecret: string;
  codec?: PayloadCodec;
}

export type Identity = DeviceIdentity | ActivationIdentity | { kind: 'service' };

/**
 * The broker's id for a logged-in client: the identity, then the id the client sent.
 * The broker ends an older session with the same id; scoped, that can only be a
 * session of the same identity, never another device's. Encoded so no device's
 * keys can spell another's scope.
 */
export function scopedClientId(
  scope: { kind: 'service' } | { kind: 'device' | 'activation'; device: DeviceRef },
  sent: string,
): string {
  if (scope.kind === 'service') return `s|${sent}`;
  const keys = `${encodeURIComponent(scope.device.productKey)}/${encodeURIComponent(scope.device.deviceKey)}`;
  return `${scope.kind === 'device' ? 'd' : 'a'}/${keys}|${sent}`;
}

export class Sessions {
  private readonly identities = new WeakMap<Client, Identity>();
  private readonly current = new Map<string, Client>();
  private lastSince = 0;

  identify(client: Client): Identity | undefined {
    return this.identities.get(client);
  }

  addService(client: Client): void {
    this.identities.set(client, { kind: 'service' });
  }

  /** Identifies an activation session; the device's session (if any) stays what it is. */
  addActivation(client: Client, device: DeviceRef, deviceSecret: string, codec?: PayloadCodec): void {
    this.identities.set(client, { kind: 'activation', device, deviceSecret, codec });
  }

  /** Makes `client` the device's session; returns the session it replaces, if any. */
  claim(client: Client, device: DeviceRef, codec?: PayloadCodec): Client | undefined {
    const id = deviceId(device);
    // Strictly increasing, so two sessions started in one millisecond are still told apart.
    this.lastSince = Math.max(Date.now(), this.lastSince + 1);
    this.identities.set(client, { kind: 'device', device, id, since: this.lastSince, codec });
    const previous = this.current.get(id);
    this.current.set(id, client);
    return previous !== client ? previous : undefined;
  }

  /** The payload codec of a compressed device or activation session; undefined for raw JSON and the service. */
  codecOf(client: Client): PayloadCodec | undefined {
    const identity = this.identities.get(client);
    return identity?.kind === 'device' || identity?.kind === 'activation' ? identity.codec : undefined;
  }

  isCurrent(client: Client): boolean {
    const identity = this.identities.get(client);
    return identity?.kind === 'device' && this.current.get(identity.id) === client;
  }

  /** Ends the session if it is still the device's current one; false for a superseded session. */
  release(client: Client): boolean {
    const identity = this.identities.get(client);
    if (identity?.kind !== 'device' || this.current.get(identity.id) !== client) return false;
    this.current.delete(identity.id);
    return true;
  }

  /** The device's live session, for commands and replies. */
  live(device: DeviceRef): Client | undefined {
    const client = this.current.get(deviceId(device));
    return client && client.connected && !client.closed ? client : undefined;
  }

  /** The devices with a live session (for the registry re-check). */
  devices(): DeviceRef[] {
    const out: DeviceRef[] = [];
    for (const client of this.current.values()) {
      const identity = this.identities.get(client);
      if (identity?.kind === 'device') out.push(identity.device);
    }
    return out;
  }

  get deviceCount(): number {
    return this.current.size;
  }
}
