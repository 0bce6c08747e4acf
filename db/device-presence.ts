/**
 * The gateway's reads and writes of the `devices` collection (shape owned by
 * the registry, db/devices.ts): the secret for login, presence, and the
 * reported firmware version. Updates never upsert: a message can only touch a
 * device that the registry created.
 */
import type { Collection, Db } from 'mongodb';
import type { DeviceRef } from '../orchestration/device-events';

/** The fields of a registry document the gateway reads or writes. */
export interface PresenceDocument {
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

export interface DevicePresenceStore {
  findForLogin(device: DeviceRef): Promise<LoginRecord | null>;
  setOnline(device: DeviceRef, online: boolean, at: Date): Promise<void>;
  touch(device: DeviceRef, at: Date): Promise<void>;
  storeReportedVersion(device: DeviceRef, version: string, at: Date): Promise<void>;
}

export function devicePresenceStore(db: Db): DevicePresenceStore {
  const devices: Collection<PresenceDocument> = db.collection<PresenceDocument>('devices');
  const byKey = (d: DeviceRef) => ({ productKey: d.productKey, deviceKey: d.deviceKey });
  return {
    async findForLogin(device) {
      const doc = await devices.findOne(byKey(device), {
        projection: { _id: 0, productKey: 1, deviceKey: 1, deviceSecret: 1 },
      });
      if (!doc || typeof doc.deviceSecret !== 'string') return null;
      return { productKey: doc.productKey, deviceKey: doc.deviceKey, deviceSecret: doc.deviceSecret };
    },
    async setOnline(device, online, at) {
      await devices.updateOne(byKey(device), { $set: { online, lastSeenAt: at, updatedAt: at } });
    },
    async touch(device, at) {
      await devices.updateOne(byKey(device), { $set: { lastSeenAt: at } });
    },
    async storeReportedVersion(device, version, at) {
      await devices.updateOne(byKey(device), {
        $set: { firmwareVersion: version, versionReportedAt: at, lastSeenAt: at, updatedAt: at },
      });
    },
  };
}
