/**
 * The fleet version view of one product: how many devices report each
 * firmware version, how many of them are online, and how many are in an
 * active upgrade. Pure: the database module hands in its grouped rows.
 */

/** Devices of one reported version (`null`: never reported one). */
export interface VersionCount {
  version: string | null;
  total: number;
  online: number;
  offline: number;
  /** Devices with an upgrade command on its way or being applied (record pushed or upgrading). */
  upgrading: number;
}

export interface FleetVersions {
  productKey: string;
  total: number;
  online: number;
  upgrading: number;
  versions: VersionCount[];
}

/** One grouped row of the registry: devices of a version, online or not. */
export interface PresenceRow {
  version: string | null;
  online: boolean;
  n: number;
}

/** Devices in an active upgrade, by the version they report now. */
export interface UpgradingRow {
  version: string | null;
  n: number;
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/**
 * Natural order, so "1.10.0" comes after "1.9.0" and "m10" after "m2";
 * plain code-unit order breaks ties, so distinct strings never compare equal.
 */
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Newest version first (natural order, descending); devices that never reported one last. */
function byVersion(a: VersionCount, b: VersionCount): number {
  if (a.version === null || b.version === null) return a.version === null ? (b.version === null ? 0 : 1) : -1;
  return naturalCompare(b.version, a.version);
}

export function fleetVersions(productKey: string, presence: PresenceRow[], upgrading: UpgradingRow[]): FleetVersions {
  const byKey = new Map<string | null, VersionCount>();
  const entry = (version: string | null): VersionCount => {
    let v = byKey.get(version);
    if (!v) {
      v = { version, total: 0, online: 0, offline: 0, upgrading: 0 };
      byKey.set(version, v);
    }
    return v;
  };
  for (const row of presence) {
    const v = entry(row.version);
    v.total += row.n;
    if (row.online) v.online += row.n;
    else v.offline += row.n;
  }
  // Read after the registry's counts: a version that vanished in between is left out rather than shown as 0 of 0.
  for (const row of upgrading) {
    const v = byKey.get(row.version);
    if (v) v.upgrading += row.n;
  }
  const versions = [...byKey.values()].sort(byVersion);
  const sum = (f: (v: VersionCount) => number) => versions.reduce((n, v) => n + f(v), 0);
  return {
    productKey,
    total: sum((v) => v.total),
    online: sum((v) => v.online),
    upgrading: sum((v) => v.upgrading),
    versions,
  };
}
