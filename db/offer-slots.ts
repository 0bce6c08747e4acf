/**
 * The concurrency limit of upon-request tasks. A push task counts its devices in flight in its
 * own workflow; a request task's devices start their upgrades themselves (getversion), so each
 * holds a slot here from the offer until its upgrade ends.
 *
 * A task has `limit` numbered slots, and holding slot i means owning the document whose `_id`
 * is (task, i). The unique `_id` is the only atomic step FerretDB offers (its conditional
 * updates read and write in two steps), and it is enough: two devices racing for one slot
 * cannot both insert it, so the limit holds; the loser picks another free slot, so a burst
 * of devices asking at once does not starve them all.
 */
import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from './mongo';

export const OFFER_SLOTS = 'offer_slots';
/** Races lost in a row before a claim gives up (the device asks again later). */
const MAX_TRIES = 5;

interface SlotDoc {
  _id: string;
  taskId: string;
  slot: number;
  deviceKey: string;
  takenAt: Date;
}

const slots = (db: Db): Collection<SlotDoc> => db.collection<SlotDoc>(OFFER_SLOTS);
const slotId = (taskId: string, slot: number) => `${taskId}\u001f#${slot}`;

export async function ensureOfferSlotIndexes(db: Db): Promise<void> {
  await slots(db).createIndex({ taskId: 1, deviceKey: 1 });
}

/** The task's slots in use (a task has at most `limit` documents here, so this read stays small). */
function held(db: Db, taskId: string): Promise<Pick<SlotDoc, 'slot' | 'deviceKey'>[]> {
  return slots(db)
    .find({ taskId }, { projection: { _id: 0, slot: 1, deviceKey: 1 } })
    .toArray();
}

/** Takes a free slot of the task for the device (or finds the one it holds); false when none is free. */
export async function takeOfferSlot(db: Db, taskId: string, deviceKey: string, limit: number): Promise<boolean> {
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const inUse = await held(db, taskId);
    // An earlier try of this same claim took one.
    if (inUse.some((h) => h.deviceKey === deviceKey)) return true;
    const taken = new Set(inUse.map((h) => h.slot));
    const free: number[] = [];
    for (let i = 0; i < limit; i++) if (!taken.has(i)) free.push(i);
    if (free.length === 0) return false;
    // A random free slot: devices racing after the same read rarely pick the same one.
    const slot = free[Math.floor(Math.random() * free.length)];
    try {
      await slots(db).insertOne({ _id: slotId(taskId, slot), taskId, slot, deviceKey, takenAt: new Date() });
      return true;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }
  return false;
}

/** Gives the device's slot back (nothing to do when it held none). */
export async function releaseOfferSlot(db: Db, taskId: string, deviceKey: string): Promise<void> {
  await slots(db).deleteMany({ taskId, deviceKey });
}

/** A cheap look before starting an offer: every slot is taken, none by this device. */
export async function offerSlotsFull(db: Db, taskId: string, deviceKey: string, limit: number): Promise<boolean> {
  const inUse = await held(db, taskId);
  return inUse.length >= limit && !inUse.some((h) => h.deviceKey === deviceKey);
}
