/**
 * Device presence as everything outside the gateway reads it. The registry's
 * `online` field is the one source of truth: the gateway writes it on connect
 * and disconnect (db/device-presence.ts), the workflows and the API read it
 * here; records carry no copy of it.
 *
 * Every read addresses a device by its identity-derived `_id`, the only filter
 * the embedded FerretDB answers from an index.
 */
import type { Db } from 'mongodb';
import { byIdentity, devices } from './devices';
import type { DeviceRef } from '../domain/types';

/** Lookups in flight at once. */
const PARALLEL = 64;

export async function isOnline(db: Db, productKey: string, deviceKey: string): Promise<boolean> {
  const doc = await devices(db).findOne(byIdentity({ productKey, deviceKey }), { projection: { online: 1 } });
  return doc?.online === true;
}

/** Which of the product's named devices are online now. */
export async function onlineAmong(db: Db, productKey: string, deviceKeys: readonly string[]): Promise<Set<string>> {
  const online = new Set<string>();
  for (let i = 0; i < deviceKeys.length; i += PARALLEL) {
    const chunk = deviceKeys.slice(i, i + PARALLEL);
    const states = await Promise.all(chunk.map((deviceKey) => isOnline(db, productKey, deviceKey)));
    chunk.forEach((deviceKey, j) => states[j] && online.add(deviceKey));
  }
  return online;
}

/** The gateway that holds the device's session (it wrote `online` with its id); null when offline. */
export async function sessionGatewayOf(db: Db, device: DeviceRef): Promise<string | null> {
  const doc = await devices(db).findOne(byIdentity(device), { projection: { online: 1, gatewayId: 1 } });
  return doc?.online === true && typeof doc.gatewayId === 'string' ? doc.gatewayId : null;
}
