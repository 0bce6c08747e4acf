/**
 * The gateway's reads and writes of the `devices` collection (shape owned by
 * the registry, db/devices.ts): the secret for login, presence, the
 * reported firmware version, and when the device was activated. Updates
 * never upsert: a message can only touch a device that the registry created.
 *
 * Every read and write addresses the document by its identity-derived `_id`
 * (the embedded FerretDB answers nothing else from an index).
 */
import type { Collection, Db } from 'mongodb';
import { byIdentity, deviceDocId } from './devices';
import type { DeviceRef } from '../domain/types';

/** The fields of a registry document the gateway reads or writes. */
export interface PresenceDocument {
  _id: string;
  productKey: string;
  deviceKey: string;
  deviceSecret: string;
  online: boolean;
  /** The gateway that marked the device online (config `gatewayId`); null once offline. */
  gatewayId?: string | null;
  lastSeenAt: Date | null;
  firmwareVersion?: string;
  versionReportedAt?: Date;
  /** First successful device-secret login or acknowledged dynamic activation; absent until then. */
  activatedAt?: Date;
  updatedAt: Date;
}

export interface LoginRecord {
  productKey: string;
  deviceKey: string;
  deviceSecret: string;
  /** Absent: the device has never logged in with its secret, so it may still activate dynamically. */
  activatedAt?: Date;
}

/** The registry fields the gateway writes; every write is a plain `$set`, so later writes of a device can be merged. */
export interface PresenceFields {
  online?: boolean;
  gatewayId?: string | null;
  lastSeenAt?: Date;
  updatedAt?: Date;
  firmwareVersion?: string;
  versionReportedAt?: Date;
  activatedAt?: Date;
  /**
   * With `online: false`: the gateway whose session ended. The device may hold a newer session on
   * another gateway by then, so the offline write applies only while presence still names this one.
   */
  releasedBy?: string;
}

export const onlineFields = (online: boolean, at: Date, gatewayId: string | null = null): PresenceFields => ({
  online,
  gatewayId: online ? gatewayId : null,
  lastSeenAt: at,
  updatedAt: at,
  ...(!online && gatewayId !== null && { releasedBy: gatewayId }),
});
export const seenFields = (at: Date): PresenceFields => ({ lastSeenAt: at });
export const versionFields = (version: string, at: Date): PresenceFields => ({
  firmwareVersion: version,
  versionReportedAt: at,
  lastSeenAt: at,
  updatedAt: at,
});
export const activatedFields = (at: Date): PresenceFields => ({ activatedAt: at, updatedAt: at });

export interface DevicePresenceStore {
  /** Several devices of one product at once (logins arrive in bursts). */
  findForLogin(productKey: string, deviceKeys: string[]): Promise<LoginRecord[]>;
  /** Sets fields on the device's document (never creates one). */
  update(device: DeviceRef, fields: PresenceFields): Promise<void>;
}

/**
 * Devices this gateway marked online and never offline: a run of it that ended without
 * closing their sessions (a crash) left them so. Read once at start (a full read on FerretDB).
 */
export async function devicesLeftOnline(db: Db, gatewayId: string): Promise<DeviceRef[]> {
  return db
    .collection<PresenceDocument>('devices')
    .find({ online: true, gatewayId }, { projection: { _id: 0, productKey: 1, deviceKey: 1 } })
    .toArray();
}

export function devicePresenceStore(db: Db): DevicePresenceStore {
  const devices: Collection<PresenceDocument> = db.collection<PresenceDocument>('devices');
  return {
    async findForLogin(productKey, deviceKeys) {
      // One query for the batch: an `_id` `$in` is index-served on MongoDB and on the embedded database.
      const docs = await devices
        .find(
          { _id: { $in: deviceKeys.map((deviceKey) => deviceDocId(productKey, deviceKey)) } },
          { projection: { productKey: 1, deviceKey: 1, deviceSecret: 1, activatedAt: 1, lastSeenAt: 1 } },
        )
        .toArray();
      return docs.flatMap((doc) => {
        if (!doc || typeof doc.deviceSecret !== 'string' || doc.productKey !== productKey) return [];
        const { deviceKey, deviceSecret } = doc;
        // Only a session with the device's own secret writes lastSeenAt, so a device seen before
        // activatedAt existed holds its secret as surely as one activated since.
        const activatedAt = doc.activatedAt instanceof Date ? doc.activatedAt : (doc.lastSeenAt ?? undefined);
        return [{ productKey, deviceKey, deviceSecret, ...(activatedAt instanceof Date ? { activatedAt } : {}) }];
      });
    },
    async update(device, { releasedBy, ...fields }) {
      if (fields.online === false && releasedBy !== undefined) {
        const { online, gatewayId, ...rest } = fields;
        await devices.updateOne(
          { ...byIdentity(device), gatewayId: { $in: [releasedBy, null] } },
          { $set: { online, gatewayId } },
        );
        if (Object.keys(rest).length > 0) await devices.updateOne(byIdentity(device), { $set: rest });
        return;
      }
      await devices.updateOne(byIdentity(device), { $set: fields });
    },
  };
}
