/**
 * The gateway's reads and writes of the `devices` collection (shape owned by
 * the registry, db/devices.ts): the secret for login, presence, and the
 * reported firmware version. Updates never upsert: a message can only touch a
 * device that the registry created.
 *
 * Writes address the document by the `_id` read at login, so a device
 * deleted and registered again is never written to through an old session
 * (and the embedded FerretDB, which ignores the productKey+deviceKey index,
 * finds an `_id` faster).
 */
import type { Collection, Db, ObjectId } from 'mongodb';
import type { DeviceRef } from '../orchestration/device-events';

/** The fields of a registry document the gateway reads or writes. */
export interface PresenceDocument {
  _id: ObjectId;
  productKey: string;
  deviceKey: string;
  deviceSecret: string;
  online: boolean;
  lastSeenAt: Date | null;
  firmwareVersion?: string;
  versionReportedAt?: Date;
  updatedAt: Date;
}

export interface LoginRecord {
  productKey: string;
  deviceKey: string;
  deviceSecret: string;
}

/** The registry fields the gateway writes; every write is a plain `$set`, so later writes of a device can be merged. */
export interface PresenceFields {
  online?: boolean;
  lastSeenAt?: Date;
  updatedAt?: Date;
  firmwareVersion?: string;
  versionReportedAt?: Date;
}

export const onlineFields = (online: boolean, at: Date): PresenceFields => ({ online, lastSeenAt: at, updatedAt: at });
export const seenFields = (at: Date): PresenceFields => ({ lastSeenAt: at });
export const versionFields = (version: string, at: Date): PresenceFields => ({
  firmwareVersion: version,
  versionReportedAt: at,
  lastSeenAt: at,
  updatedAt: at,
});

export interface DevicePresenceStore {
  /** Several devices of one product in one query (logins arrive in bursts; one scan serves them all). */
  findForLogin(productKey: string, deviceKeys: string[]): Promise<LoginRecord[]>;
  /** Sets fields on the device's document (never creates one). */
  update(device: DeviceRef, fields: PresenceFields): Promise<void>;
}

export function devicePresenceStore(db: Db): DevicePresenceStore {
  const devices: Collection<PresenceDocument> = db.collection<PresenceDocument>('devices');
  /** `_id` per device as read at its last login. */
  const ids = new Map<string, ObjectId>();
  const key = (d: DeviceRef) => `${d.productKey}/${d.deviceKey}`;
  const filter = (d: DeviceRef) => {
    const _id = ids.get(key(d));
    return _id ? { _id } : { productKey: d.productKey, deviceKey: d.deviceKey };
  };
  return {
    async findForLogin(productKey, deviceKeys) {
      const docs = await devices
        .find(
          { productKey, deviceKey: { $in: deviceKeys } },
          { projection: { _id: 1, productKey: 1, deviceKey: 1, deviceSecret: 1 } },
        )
        .toArray();
      return docs.flatMap((doc) => {
        if (typeof doc.deviceSecret !== 'string' || doc.productKey !== productKey) return [];
        ids.set(key(doc), doc._id);
        return [{ productKey: doc.productKey, deviceKey: doc.deviceKey, deviceSecret: doc.deviceSecret }];
      });
    },
    async update(device, fields) {
      await devices.updateOne(filter(device), { $set: fields });
    },
  };
}
