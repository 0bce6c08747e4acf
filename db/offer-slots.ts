/**
 * The concurrency limit of upon-request tasks. A push task counts its devices in flight in its
 * own workflow; a request task's devices start their upgrades themselves (getversion), so each
 * holds a slot here from the offer until its upgrade ends.
 *
 * One document per holder, its `_id` derived from (task, device): taking a slot is an insert
 * and a count, giving it back a delete. The only atomic step FerretDB offers is the unique
 * `_id` (its updates read and write in two steps), and insert-then-count never lets more than
 * the limit through: of two racing for the last slot, the later to count sees both. At worst
 * both give up and the device asks again.
 */
import type { Collection, Db } from 'mongodb';
import { recordId } from './records';

export const OFFER_SLOTS = 'offer_slots';

interface SlotDoc {
  _id: string;
  taskId: string;
  deviceKey: string;
  takenAt: Date;
}

const slots = (db: Db): Collection<SlotDoc> => db.collection<SlotDoc>(OFFER_SLOTS);
/** A slot has the `_id` of the record it is held for. */
const slotId = recordId;

export async function ensureOfferSlotIndexes(db: Db): Promise<void> {
  await slots(db).createIndex({ taskId: 1 });
}

/** Takes (or keeps) the device's slot in the task; false when the task is at its limit. Idempotent. */
export async function takeOfferSlot(db: Db, taskId: string, deviceKey: string, limit: number): Promise<boolean> {
  const _id = slotId(taskId, deviceKey);
  try {
    await slots(db).insertOne({ _id, taskId, deviceKey, takenAt: new Date() });
  } catch (err) {
    // Held already: an earlier try of this same claim took it.
    if ((err as { code?: number }).code !== 11000) throw err;
  }
  if ((await slots(db).countDocuments({ taskId })) <= limit) return true;
  await slots(db).deleteOne({ _id });
  return false;
}

/** Gives the device's slot back (nothing to do when it held none). */
export async function releaseOfferSlot(db: Db, taskId: string, deviceKey: string): Promise<void> {
  await slots(db).deleteOne({ _id: slotId(taskId, deviceKey) });
}

/** A cheap look before starting an offer: every slot is taken, none by this device. */
export async function offerSlotsFull(db: Db, taskId: string, deviceKey: string, limit: number): Promise<boolean> {
  if ((await slots(db).countDocuments({ taskId })) < limit) return false;
  return (await slots(db).findOne({ _id: slotId(taskId, deviceKey) })) === null;
}
