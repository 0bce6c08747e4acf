/**
 * The outbox's bound and order, on a real gateway and database: an
 * orchestration that refuses every call (as an unreachable Temporal does)
 * until the test lets it answer. The path through real Temporal is in
 * test/reliability/device-events.test.ts.
 */
import type { MqttClient } from 'mqtt';
import { EVENT_OUTBOX } from '../../db/event-outbox';
import { startGateway, type Gateway } from '../../gateway/gateway';
import type { DeviceEvents } from '../../orchestration/device-events';
import { silentLogger } from '../../runtime/log';
import { RecordingDeviceEvents } from '../fixtures/recording-device-events';
import { testDb } from '../helpers/stack';
import { connectDevice, newDevice, registerDevices, SERVICE, until } from './support';

/** Refuses every event while `down`, like a Temporal that cannot be reached; records the ones it takes. */
class Outage extends RecordingDeviceEvents implements DeviceEvents {
  down = true;
  private check(): void {
    if (this.down) throw new Error('14 UNAVAILABLE: connect ECONNREFUSED');
  }
  override async connected(...args: Parameters<DeviceEvents['connected']>) {
    this.check();
    await super.connected(...args);
  }
  override async progressReported(...args: Parameters<DeviceEvents['progressReported']>) {
    this.check();
    await super.progressReported(...args);
  }
}

let mongo: Awaited<ReturnType<typeof testDb>>;
let gateway: Gateway;
let client: MqttClient | undefined;
const events = new Outage();

beforeAll(async () => {
  mongo = await testDb('gateway-outbox');
  gateway = await startGateway({
    config: {
      mqttPort: 0,
      mqttHost: '127.0.0.1',
      gatewayHttpPort: 0,
      serviceMqttUsername: SERVICE.username,
      serviceMqttPassword: SERVICE.password,
      gatewayId: 'outbox-gateway',
      gatewayOutboxMax: 3,
    },
    log: silentLogger,
    db: mongo.db,
    events,
    outbox: { attempts: 2, backoffMs: 10, drainIntervalMs: 100 },
  });
});

afterAll(async () => {
  await client?.endAsync();
  await gateway.close();
  await mongo.close();
});

it('keeps at most the configured number of events, dropping the oldest, and delivers the rest in order', async () => {
  const device = newDevice();
  await registerDevices(mongo.db, [device]);
  client = await connectDevice(`mqtt://127.0.0.1:${gateway.mqttPort}`, device);
  const topic = `/sys/${device.productKey}/${device.deviceKey}/ota/device/progress`;
  for (const step of [10, 20, 30, 40]) {
    await client.publishAsync(
      topic,
      JSON.stringify({ id: String(step), version: '1.0', method: 'ota.device.progress', params: { step } }),
    );
  }
  // connected, 10, 20, 30, 40: five events into an outbox of three.
  // The oldest goes before the newest is stored: wait for both.
  await until(
    () => gateway.metrics.outbox.dropped === 2 && gateway.metrics.outbox.appended === 5,
    10_000,
    'two events dropped and the last one stored',
  );
  expect(await mongo.db.collection(EVENT_OUTBOX).countDocuments()).toBe(3);
  expect(events.calls).toHaveLength(0);

  events.down = false;
  // A row leaves the outbox (and its depth) just after its event is delivered.
  await until(
    () => events.of('progressReported').length === 3 && gateway.metrics.outbox.depth === 0,
    10_000,
    'the kept events delivered and removed',
  );
  expect(events.of('progressReported').map((c) => c.step)).toEqual([20, 30, 40]);
  expect(events.of('connected')).toHaveLength(0);
  expect(gateway.metrics.outbox).toMatchObject({ appended: 5, delivered: 3, dropped: 2, depth: 0 });
  expect(await mongo.db.collection(EVENT_OUTBOX).countDocuments()).toBe(0);
});
