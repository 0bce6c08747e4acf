/**
 * Every collection's indexes, and the one-time re-keying of devices registered
 * before their `_id` was derived (db/device-ids.ts): brought up to date,
 * idempotently, by each process that writes.
 */
import type { Db } from 'mongodb';
import { keyDevicesByIdentity } from './device-ids';
import { DEVICES } from './devices';
import { createIndexesOneByOne, ensureRegistryIndexes } from './indexes';
import { ensureOfferSlotIndexes } from './offer-slots';
import { ensureRecordIndexes } from './records';
import { ensureTaskIndexes } from './tasks';

export async function ensureAllIndexes(db: Db): Promise<void> {
  await ensureRegistryIndexes(db);
  await keyDevicesByIdentity(db);
  await ensureTaskIndexes(db);
  await ensureRecordIndexes(db);
  await ensureOfferSlotIndexes(db);
  // Increment tasks admit devices registered or reporting a version since their cursor.
  await createIndexesOneByOne(db, DEVICES, [
    { key: { productKey: 1, createdAt: 1 }, name: 'device_product_created' },
    { key: { productKey: 1, versionReportedAt: 1 }, name: 'device_product_version_reported' },
  ]);
}
