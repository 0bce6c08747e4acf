/**
 * Device presence as everything outside the gateway reads it. The registry's
 * `online` field is the one source of truth: the gateway writes it on connect
 * and disconnect (db/device-presence.ts), the workflows and the API read it
 * here; records carry no copy of it.
 *
 * Every read addresses devices by their identity-derived `_id`s, which the
 * embedded database answers from its index.
 */
import type { Db } from 'mongodb';
import { byIdentity, deviceDocId, devices } from './devices';
import type { DeviceRef } from '../domain/types';

/** Devices asked for in one query (the embedded database serves an `_id` `$in` of up to 1,000 from its index). */
const PER_QUERY = 500;

export async function isOnline(db: Db, productKey: string, deviceKey: string): Promise<boolean> {
  const doc = await devices(db).findOne(byIdentity({ productKey, deviceKey }), { projection: { online: 1 } });
  return doc?.online === true;
}

/** Which of the product's named devices are online now. */
export async function onlineAmong(db: Db, productKey: string, deviceKeys: readonly string[]): Promise<Set<string>> {
  const online = new Set<string>();
  for (let i = 0; i < deviceKeys.length; i += PER_QUERY) {
    const chunk = deviceKeys.slice(i, i + PER_QUERY);
    const ids = chunk.map((deviceKey) => deviceDocId(productKey, deviceKey));
    const docs = devices(db).find({ _id: { $in: ids }, online: true }, { projection: { _id: 0, deviceKey: 1 } });
    for await (const doc of docs) online.add(doc.deviceKey);
  }
  return online;
}

/** Whether the device is online and which gateway holds its session (it wrote `online` with its id). */
export async function sessionOf(db: Db, device: DeviceRef): Promise<{ online: boolean; gatewayId: string | null }> {
  const doc = await devices(db).findOne(byIdentity(device), { projection: { online: 1, gatewayId: 1 } });
  const online = doc?.online === true;
  return { online, gatewayId: online && typeof doc?.gatewayId === 'string' ? doc.gatewayId : null };
}

/** The gateway that holds the device's session; null when offline. */
export async function sessionGatewayOf(db: Db, device: DeviceRef): Promise<string | null> {
  return (await sessionOf(db, device)).gatewayId;
}
