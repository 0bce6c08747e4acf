/**
 * Who is behind each MQTT client, and which client is a device's live session.
 * The newest authenticated session of a device is its session; an older one
 * closing later must not mark the device offline.
 */
import type { Client } from 'aedes';
import type { DeviceRef } from '../orchestration/device-events';
import { deviceId } from './topics';

export type Identity = { kind: 'device'; device: DeviceRef; id: string } | { kind: 'service' };

export class Sessions {
  private readonly identities = new WeakMap<Client, Identity>();
  private readonly current = new Map<string, Client>();

  identify(client: Client): Identity | undefined {
    return this.identities.get(client);
  }

  addService(client: Client): void {
    this.identities.set(client, { kind: 'service' });
  }

  /** Makes `client` the device's session; returns the session it replaces, if any. */
  claim(client: Client, device: DeviceRef): Client | undefined {
    const id = deviceId(device);
    this.identities.set(client, { kind: 'device', device, id });
    const previous = this.current.get(id);
    this.current.set(id, client);
    return previous !== client ? previous : undefined;
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

  get deviceCount(): number {
    return this.current.size;
  }
}
