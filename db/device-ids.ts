/**
 * Devices registered before a device's `_id` was derived from its identity
 * (db/devices.ts) are re-keyed when a process starts. The unique
 * (productKey, deviceKey) index forbids holding both copies in `devices`, so
 * each one passes through a staging collection: staged, old removed, new
 * inserted, unstaged. A crash at any step is finished by the next start, and
 * processes starting together only repeat steps that are idempotent.
 */
import type { Db, ObjectId } from 'mongodb';
import { DEVICES, deviceDocId } from './devices';
import { isDuplicateKey } from './mongo';

const STAGING = 'devices_rekeying';
const MARKER = 'devices-keyed-by-identity';

/** A device document of either generation: `_id` an ObjectId (old) or the identity string (new). */
type AnyDevice = { _id: ObjectId | string; [field: string]: unknown };

const ignoreDuplicate = (err: unknown): void => {
  if (!isDuplicateKey(err)) throw err;
};

export async function keyDevicesByIdentity(db: Db): Promise<void> {
  const meta = db.collection<{ _id: string; at: Date }>('meta');
  if (await meta.findOne({ _id: MARKER })) return;
  const devices = db.collection<AnyDevice>(DEVICES);
  const staging = db.collection<AnyDevice>(STAGING);
  for await (const old of devices.find({ _id: { $type: 'objectId' } })) {
    const { _id: oldId, ...fields } = old;
    const _id = deviceDocId(String(fields.productKey), String(fields.deviceKey));
    await staging.replaceOne({ _id }, { ...fields, _id }, { upsert: true });
    await devices.deleteOne({ _id: oldId });
  }
  // Staged documents, from this pass or from one a crash interrupted.
  for await (const doc of staging.find({})) {
    await devices.insertOne(doc).catch(ignoreDuplicate);
    await staging.deleteOne({ _id: doc._id });
  }
  await meta.insertOne({ _id: MARKER, at: new Date() }).catch(ignoreDuplicate);
}
