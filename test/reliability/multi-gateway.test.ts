/**
 * Several gateways, one rollout: two real gateway processes share the
 * database and Temporal, each in the gateway directory with its own command
 * endpoint. A third gateway (the stack's own, in this process) holds no
 * device, so a command reaches a device only if the worker hands it to the
 * gateway holding the device's session.
 */
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../config/config';
import { setFirmwareVerified } from '../../db/firmware';
import { recordId, recordsCollection } from '../../db/records';
import { ManagedProcess } from '../../runtime/managed-process';
import { freePort } from '../../runtime/net';
import { Fleet, type DeviceSpec } from '../../simulator';
import { eventually } from '../helpers/eventually';
import { startServiceStack, type ServiceStack } from '../helpers/service-stack';
import { unique } from '../helpers/stack';

const PK = 'mg-pk';
let stack: ServiceStack;
let firmwareId = '';
const gateways: ManagedProcess[] = [];

interface GatewayProcess {
  id: string;
  mqttUrl: string;
  process: ManagedProcess;
}

const spec = (deviceKey: string, behaviour: DeviceSpec['behaviour']): DeviceSpec => ({
  productKey: PK,
  deviceKey,
  deviceSecret: `secret-${deviceKey}`,
  version: '1.0.0',
  behaviour,
});

async function startGatewayProcess(name: string): Promise<GatewayProcess> {
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const id = unique(`mg-${name}`);
  const env = {
    ...process.env,
    MONGODB_URL: stack.db.url,
    TEMPORAL_ADDRESS: stack.config.temporalAddress,
    OTA_TASK_QUEUE: stack.config.temporalTaskQueue,
    OTA_GATEWAY_ID: id,
    OTA_MQTT_HOST: '127.0.0.1',
    OTA_MQTT_PORT: String(mqttPort),
    OTA_GATEWAY_HTTP_PORT: String(httpPort),
    OTA_SERVICE_MQTT_PASSWORD: stack.config.serviceMqttPassword,
    OTA_DATA_DIR: stack.config.dataDir,
    OTA_DOWNLOAD_BASE_URL: stack.config.firmwareFiles.downloadBaseUrl,
    OTA_LOG_LEVEL: 'info',
  };
  const child = new ManagedProcess({
    name: `gateway ${name}`,
    command: process.execPath,
    args: [path.join(PROJECT_ROOT, 'dist/gateway/server.js')],
    env,
    logFile: path.join(process.env.OTA_TEST_TMP ?? '/tmp', `${id}.log`),
  });
  gateways.push(child);
  await eventually(
    `gateway ${name} to answer`,
    () =>
      fetch(`http://127.0.0.1:${httpPort}/healthz`).then(
        (r) => r.ok,
        () => false,
      ),
    (ok) => ok,
    30_000,
    200,
  );
  return { id, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, process: child };
}

const presenceOf = (deviceKey: string) =>
  stack.db.db
    .collection('devices')
    .findOne({ productKey: PK, deviceKey }, { projection: { online: 1, gatewayId: 1, firmwareVersion: 1 } });

async function pushTask(deviceKey: string): Promise<string> {
  const res = await stack.api<{ taskId: string }>('POST', '/v1/upgrade-tasks', {
    firmwareId,
    sourceVersions: ['1.0.0'],
    strategy: 'snapshot',
    scope: 'target',
    filter: { deviceKeys: [deviceKey] },
    method: 'push',
    upgradeTimeout: 3600,
  });
  expect(res.status).toBe(201);
  return res.body.taskId;
}

/**
 * Connects the fleet's devices and waits until the registry has them on that gateway, with the
 * version they report: a task's snapshot takes only devices whose version it knows, and the
 * gateway writes the version after the session.
 */
async function connectThrough(fleet: Fleet, gateway: GatewayProcess, deviceKeys: string[]): Promise<void> {
  await fleet.connect();
  for (const deviceKey of deviceKeys) {
    await eventually(
      `${deviceKey} to be online through ${gateway.id}`,
      () => presenceOf(deviceKey),
      (p) => p?.online === true && p.gatewayId === gateway.id && p.firmwareVersion === '1.0.0',
    );
  }
}

const fleets: Fleet[] = [];
const fleetOn = (gateway: GatewayProcess, specs: DeviceSpec[]) => {
  const fleet = new Fleet({ url: gateway.mqttUrl }, specs);
  fleets.push(fleet);
  return fleet;
};

let east: GatewayProcess;
let west: GatewayProcess;

beforeAll(async () => {
  stack = await startServiceStack('multi_gateway');
  await stack.startWorker();
  const keys = ['mg-stays', 'mg-moves', 'mg-overlaps', 'mg-orphaned'];
  const res = await stack.api('POST', '/v1/devices:batch', {
    devices: keys.map((deviceKey) => ({ productKey: PK, deviceKey, deviceSecret: `secret-${deviceKey}` })),
  });
  expect(res.body).toMatchObject({ created: keys.length, failed: [] });
  const fw = await stack.api<{ firmwareId: string }>('POST', '/v1/firmwares', {
    productKey: PK,
    version: '2.0.0',
    fileUrl: '/files/mg-2.0.0',
    fileSize: 4096,
    signMethod: 'md5',
    sign: '9E107D9D372BB6826BD81D3542A419D6',
  });
  firmwareId = fw.body.firmwareId;
  await setFirmwareVerified(stack.db.db, firmwareId);
  [east, west] = await Promise.all([startGatewayProcess('east'), startGatewayProcess('west')]);
}, 120_000);

afterAll(async () => {
  await Promise.all(fleets.map((f) => f.close()));
  await Promise.all(gateways.map((g) => g.stop(5000)));
  await stack?.stop();
});

describe('several gateways', () => {
  it('delivers a command to a device connected to another gateway than the worker’s', async () => {
    const fleet = fleetOn(east, [spec('mg-stays', { kind: 'succeed', stepDelayMs: 20 })]);
    await connectThrough(fleet, east, ['mg-stays']);
    const taskId = await pushTask('mg-stays');
    await eventually(
      'the device to upgrade',
      async () => (await recordsCollection(stack.db.db).findOne({ _id: recordId(taskId, 'mg-stays') }))?.status,
      (s) => s === 'success',
      90_000,
      200,
    );
    expect(fleet.device('mg-stays').record.commands).toHaveLength(1);
  });

  it('sends the command again through the gateway a device reconnected to', async () => {
    const onEast = fleetOn(east, [spec('mg-moves', { kind: 'silent' })]);
    const onWest = fleetOn(west, [spec('mg-moves', { kind: 'silent' })]);
    await connectThrough(onEast, east, ['mg-moves']);
    const taskId = await pushTask('mg-moves');
    const first = await eventually(
      'the first command, through east',
      () => onEast.device('mg-moves').record.commands,
      (c) => c.length === 1,
      90_000,
      200,
    );

    await onEast.device('mg-moves').disconnect();
    await eventually(
      'the workflow to hear the device went offline',
      async () =>
        ((await recordsCollection(stack.db.db).findOne({ _id: recordId(taskId, 'mg-moves') }))?.timeline ?? []).map(
          (e) => e.event,
        ),
      (t) => t.includes('offline'),
    );
    await connectThrough(onWest, west, ['mg-moves']);
    const again = await eventually(
      'the command again, through west',
      () => onWest.device('mg-moves').record.commands,
      (c) => c.length === 1,
      90_000,
      200,
    );
    expect(again[0].id).toBe(first[0].id);
    expect(onEast.device('mg-moves').record.commands).toHaveLength(1);
  });

  it('keeps a device on the gateway of its newer session when the older one, elsewhere, ends', async () => {
    const onEast = fleetOn(east, [spec('mg-overlaps', { kind: 'silent' })]);
    const onWest = fleetOn(west, [spec('mg-overlaps', { kind: 'silent' })]);
    await connectThrough(onEast, east, ['mg-overlaps']);
    const taskId = await pushTask('mg-overlaps');
    await eventually(
      'the first command, through east',
      () => onEast.device('mg-overlaps').record.commands,
      (c) => c.length === 1,
      90_000,
      200,
    );
    // Moves before east has noticed it left: two sessions, on two gateways, for a moment.
    await connectThrough(onWest, west, ['mg-overlaps']);
    await eventually(
      'the command again, through west',
      () => onWest.device('mg-overlaps').record.commands,
      (c) => c.length === 1,
      90_000,
      200,
    );
    await onEast.device('mg-overlaps').disconnect();
    // The end of the older session is neither presence nor news for the workflow; west's session is.
    await onWest.device('mg-overlaps').progress(20, 'downloading');
    const timeline = await eventually(
      'the progress to reach the workflow',
      async () =>
        ((await recordsCollection(stack.db.db).findOne({ _id: recordId(taskId, 'mg-overlaps') }))?.timeline ?? []).map(
          (e) => e.event,
        ),
      (t) => t.includes('progress'),
    );
    expect(timeline).not.toContain('offline');
    expect(await presenceOf('mg-overlaps')).toMatchObject({ online: true, gatewayId: west.id });
  });

  it('finds the device again through presence when the gateway presence names is gone', async () => {
    const north = await startGatewayProcess('north');
    const onNorth = fleetOn(north, [spec('mg-orphaned', { kind: 'silent' })]);
    const onEast = fleetOn(east, [spec('mg-orphaned', { kind: 'silent' })]);
    await connectThrough(onNorth, north, ['mg-orphaned']);
    // Killed outright: presence still names north, and nothing answers at its command endpoint.
    north.process.child.kill('SIGKILL');
    await north.process.whenExited();
    onNorth.device('mg-orphaned').drop();
    const taskId = await pushTask('mg-orphaned');
    await eventually(
      'the command, which north cannot take, recorded as not delivered',
      async () =>
        (await recordsCollection(stack.db.db).findOne({ _id: recordId(taskId, 'mg-orphaned') }))?.timeline ?? [],
      (timeline) => timeline.some((e) => e.detail?.includes('not delivered') === true),
      60_000,
      200,
    );
    // The device comes back through east: its reconnect sends the command there; north never had it.
    await connectThrough(onEast, east, ['mg-orphaned']);
    await eventually(
      'the command, through east',
      () => onEast.device('mg-orphaned').record.commands,
      (c) => c.length >= 1,
      90_000,
      200,
    );
    expect(onNorth.device('mg-orphaned').record.commands).toHaveLength(0);
  }, 300_000);
});
