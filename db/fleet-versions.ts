/**
 * Reads for the fleet version view: the registry grouped by reported version
 * and presence (one aggregation on the server), and the devices of the
 * product in an active upgrade, read by identity. The pure merge is
 * domain/fleet-versions.ts.
 */
import type { Db } from 'mongodb';
import { fleetVersions, type FleetVersions, type PresenceRow, type UpgradingRow } from '../domain/fleet-versions';
import type { RecordStatus } from '../domain/types';
import { deviceDocId, devices } from './devices';
import { recordsCollection } from './records';

/** A record in these statuses means a command went to the device and its outcome is not known yet. */
export const ACTIVE_UPGRADE_STATUSES: readonly RecordStatus[] = ['pushed', 'upgrading'];

export async function readFleetVersions(db: Db, productKey: string): Promise<FleetVersions> {
  const [presence, active] = await Promise.all([
    devices(db)
      .aggregate<{ _id: { version?: string | null; online?: boolean }; n: number }>([
        { $match: { productKey } },
        { $group: { _id: { version: '$firmwareVersion', online: '$online' }, n: { $sum: 1 } } },
      ])
      .toArray(),
    // One device may hold an open record in two tasks: distinct keys count it once.
    recordsCollection(db).distinct('deviceKey', { productKey, status: { $in: [...ACTIVE_UPGRADE_STATUSES] } }),
  ]);
  // Counted under the version each device reports now, so the two halves of the answer agree.
  const upgradingDevices =
    active.length === 0
      ? []
      : await devices(db)
          .find(
            { _id: { $in: active.map((deviceKey) => deviceDocId(productKey, deviceKey)) } },
            { projection: { _id: 0, firmwareVersion: 1 } },
          )
          .toArray();
  const upgrading = new Map<string | null, number>();
  for (const d of upgradingDevices) {
    const version = d.firmwareVersion ?? null;
    upgrading.set(version, (upgrading.get(version) ?? 0) + 1);
  }
  const presenceRows: PresenceRow[] = presence.map((r) => ({
    version: r._id.version ?? null,
    online: r._id.online === true,
    n: r.n,
  }));
  const upgradingRows: UpgradingRow[] = [...upgrading].map(([version, n]) => ({ version, n }));
  return fleetVersions(productKey, presenceRows, upgradingRows);
}
