/**
 * Device simulator: a fleet of EnOS devices for tests, demos and the benchmark.
 *
 * Create a fleet, connect it to a gateway URL, wait for outcomes, read results:
 *
 * ```ts
 * import { Fleet, fleetSpecs } from '../simulator';
 *
 * const fleet = new Fleet({ url: 'mqtt://127.0.0.1:1883', maxConcurrentConnects: 200 }, [
 *   ...fleetSpecs({ productKey: 'pk', count: 100, version: '1.0.0' }),                 // succeed (default)
 *   ...fleetSpecs({ productKey: 'pk', count: 5, prefix: 'bad-', version: '1.0.0',
 *                   behaviour: { kind: 'fail', code: -2, stepsBefore: [20] } }),
 *   { productKey: 'pk', deviceKey: 'java1', deviceSecret: 's', version: '1.0.0',
 *     signMethod: 'hmacsha1', upperCaseSign: true },                                     // Java 1.x style login
 * ]);
 * const accepted = await fleet.connect();        // logins accepted; each device informs its version
 * // … the service pushes `/sys/pk/{dk}/ota/device/upgrade` commands …
 * await fleet.waitForEach((d) => d.outcome !== 'upgrading' && d.outcome !== 'none', 60_000);
 * fleet.summary();                               // { devices, online, versions, outcomes, commandsReceived, … }
 * fleet.device('sim-3').record;                  // commands (with ids), replies, progress, informs, connections
 * await fleet.close();
 * ```
 *
 * Behaviours (`DeviceSpec.behaviour`, see ./types.ts): `succeed` (steps, default
 * 20/50/80/100, then inform the new version), `fail` (steps, then a negative code),
 * `decline` (progress -5), `offline` (connect only after `forMs`), `drop` (lose the
 * connection mid-upgrade and come back on the old or new version), `request`
 * (getversion on connect, take the last offer, progress 20/80, inform), `silent`
 * (receive the command, never answer), `slow` (a long download before the steps).
 *
 * Protocol details follow the SDKs: signed login (sha256 lower-case by default,
 * any `signMethod`, optional upper-case hex), timestamp fixed per device and reused
 * on reconnect, clean session, keepalive 60 s, no SUBSCRIBE to command topics,
 * SUBSCRIBE to `_reply` before each synchronous request, ids "1", "2", … per
 * connection, envelope version "1.1". A single `SimulatedDevice` can also be
 * driven by hand (`inform`, `progress`, `getversion`, `drop`, `disconnect`).
 *
 * CLI: `node dist/simulator/cli.js --help`.
 */
export { Fleet, fleetSpecs, type FleetOptions } from './fleet';
export { SimulatedDevice, type DeviceOptions } from './device';
export type {
  Behaviour,
  DeviceRecord,
  DeviceSpec,
  FleetSummary,
  Outcome,
  ReceivedCommand,
  ReceivedReply,
  SimSignMethod,
} from './types';
