/**
 * Where each gateway takes upgrade commands: its id (the one presence names as
 * holding a device's session) and the URL of its command endpoint. Each gateway
 * writes its own entry when it starts, so a gateway that moved to another address
 * is found at the new one; the worker reads it to hand a command to the gateway
 * holding the device's session. Read by `_id` only, which every backend serves
 * from its index.
 */
import type { Collection, Db } from 'mongodb';

export const GATEWAYS = 'gateways';

interface GatewayDoc {
  _id: string;
  commandUrl: string;
  registeredAt: Date;
}

const gateways = (db: Db): Collection<GatewayDoc> => db.collection<GatewayDoc>(GATEWAYS);

/** The gateway's own entry, written (again) every time it starts. */
export async function registerGateway(db: Db, gatewayId: string, commandUrl: string): Promise<void> {
  await gateways(db).updateOne(
    { _id: gatewayId },
    { $set: { commandUrl, registeredAt: new Date() } },
    { upsert: true },
  );
}

/** Where the gateway takes commands; null for a gateway that never started against this database. */
export async function gatewayCommandUrl(db: Db, gatewayId: string): Promise<string | null> {
  const doc = await gateways(db).findOne({ _id: gatewayId }, { projection: { commandUrl: 1 } });
  return doc?.commandUrl ?? null;
}
