/**
 * The worker's hand-over of upgrade commands to a real gateway: the route activity finds the
 * gateway in the gateway directory and posts the command with the service secret; the gateway
 * publishes it to the device's live MQTT session and answers whether the session took it.
 * Anyone without the secret, and any body that is not one well-formed command, gets a 4xx
 * and delivers nothing.
 */
import * as net from 'node:net';
import type { MqttClient } from 'mqtt';
import type { UpgradeCommand } from '../../activities/gateway-contracts';
import { createRouteActivities } from '../../activities/route-activities';
import { registerGateway } from '../../db/gateway-directory';
import { insertWaitingRecords, recordId, recordsCollection } from '../../db/records';
import { upgradeCommandTopic } from '../../orchestration/device-events';
import { freePort } from '../../runtime/net';
import { silentLogger } from '../../runtime/log';
import { TEST_FIRMWARE } from '../fixtures/device-start-settings';
import {
  connectDevice,
  inbox,
  newDevice,
  registerDevices,
  SERVICE,
  sleep,
  startTestGateway,
  until,
  type TestDevice,
  type TestGateway,
} from './support';

let t: TestGateway;
let online: TestDevice;
let offline: TestDevice;
let client: MqttClient;
let box: ReturnType<typeof inbox>;
let route: ReturnType<typeof createRouteActivities>;

const commandFor = (d: TestDevice, commandId: string): UpgradeCommand => ({
  productKey: d.productKey,
  deviceKey: d.deviceKey,
  commandId,
  firmware: TEST_FIRMWARE,
});

beforeAll(async () => {
  t = await startTestGateway('command-endpoint');
  online = newDevice('pk-cmd');
  offline = newDevice('pk-cmd');
  await registerDevices(t.db, [online, offline]);
  client = await connectDevice(t.url, online);
  box = inbox(client);
  route = createRouteActivities({ db: t.db, serviceSecret: SERVICE.password, log: silentLogger });
});
afterAll(async () => {
  client?.end(true);
  await t?.close();
});
beforeEach(() => {
  box.length = 0;
});

const commandsReceived = () => box.filter((m) => m.topic === upgradeCommandTopic(online));

it('hands a command to the device session, names the session, and tells the events which run sent it', async () => {
  const handover = await route.deliverUpgradeCommand({
    gatewayId: t.gateway.gatewayId,
    command: commandFor(online, 'cmd-1'),
    runId: 'run-that-sent-it',
  });
  // Named as the session's "connected" event named it, so that event is no news of a reconnect.
  await t.events.waitFor(() => t.events.of('connected', online).length === 1, 5000, 'the connected event');
  const [connected] = t.events.of('connected', online);
  expect(connected!.sessionSince).toEqual(expect.any(Number));
  expect(handover).toEqual({ delivery: 'delivered', sessionSince: connected!.sessionSince });
  await until(() => commandsReceived().length === 1, 5000, 'the command at the device');
  expect(commandsReceived()[0]!.body).toMatchObject({
    id: 'cmd-1',
    method: 'ota.device.upgrade',
    params: { version: TEST_FIRMWARE.version, fileSize: TEST_FIRMWARE.fileSize },
  });
  expect(t.events.of('commandDelivered', online).map((c) => c.runId)).toEqual(['run-that-sent-it']);
});

it("writes the device's record with a command its session took, and not without", async () => {
  const taskId = `task-cmd-${process.pid}`;
  await insertWaitingRecords(
    t.db,
    [online, offline].map((d) => ({
      taskId,
      productKey: d.productKey,
      deviceKey: d.deviceKey,
      toVersion: '2.0.0',
      fromVersion: '1.0.0',
    })),
    new Date(),
  );
  const pushed = (d: TestDevice) => ({
    taskId,
    deviceKey: d.deviceKey,
    status: 'pushed' as const,
    attempts: 1,
    timeline: [{ at: new Date().toISOString(), event: 'pushed', detail: 'command cmd-r' }],
  });
  for (const d of [online, offline]) {
    await route.deliverUpgradeCommand({
      gatewayId: t.gateway.gatewayId,
      command: commandFor(d, 'cmd-r'),
      recordIfDelivered: pushed(d),
    });
  }
  const statusOf = async (d: TestDevice) =>
    (await recordsCollection(t.db).findOne({ _id: recordId(taskId, d.deviceKey) }))?.status;
  expect(await statusOf(online)).toBe('pushed');
  expect(await statusOf(offline)).toBe('to_be_pushed');
});

it('answers not-connected for a device with no session here, and tells no run', async () => {
  const before = t.events.of('commandDelivered').length;
  const handover = await route.deliverUpgradeCommand({
    gatewayId: t.gateway.gatewayId,
    command: commandFor(offline, 'cmd-2'),
    runId: 'run-2',
  });
  expect(handover).toEqual({ delivery: 'not-connected' });
  expect(t.events.of('commandDelivered')).toHaveLength(before);
});

describe('refusals', () => {
  const post = (body: string, headers: Record<string, string> = {}, method = 'POST') =>
    fetch(t.gateway.commandUrl, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(method === 'POST' ? { body } : {}),
    });
  const withSecret = { authorization: `Bearer ${SERVICE.password}` };
  const good = () => JSON.stringify({ command: commandFor(online, 'cmd-refused') });

  it('refuses a call without the service secret (401) and delivers nothing', async () => {
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: SERVICE.password },
    ];
    for (const headers of attempts) {
      const res = await post(good(), headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
    // A route activity with another secret hears why.
    const wrong = createRouteActivities({ db: t.db, serviceSecret: 'not-the-secret', log: silentLogger });
    await expect(
      wrong.deliverUpgradeCommand({ gatewayId: t.gateway.gatewayId, command: commandFor(online, 'cmd-wrong') }),
    ).rejects.toThrow(/401/);
    await sleep(200);
    expect(commandsReceived()).toEqual([]);
  });

  it('refuses a body that is not one well-formed command (400, 413) and delivers nothing', async () => {
    const cmd = commandFor(online, 'cmd-bad');
    const bad: unknown[] = [
      'not json',
      null,
      [],
      {},
      { command: 'x' },
      { command: { ...cmd, firmware: undefined } },
      { command: { ...cmd, deviceKey: 'a/b' } },
      { command: { ...cmd, deviceKey: '+' } },
      { command: { ...cmd, productKey: '' } },
      { command: { ...cmd, commandId: 7 } },
      { command: { ...cmd, firmware: { ...cmd.firmware, signMethod: 'crc32' } } },
      { command: { ...cmd, firmware: { ...cmd.firmware, sign: 'not hex' } } },
      { command: { ...cmd, firmware: { ...cmd.firmware, fileSize: -1 } } },
      { command: { ...cmd, firmware: { ...cmd.firmware, version: 'has space' } } },
      { command: { ...cmd, firmware: { ...cmd.firmware, fileUrl: 'line\nbreak' } } },
      { command: cmd, runId: 42 },
    ];
    for (const body of bad) {
      const res = await post(typeof body === 'string' ? body : JSON.stringify(body), withSecret);
      expect([res.status, body]).toEqual([400, body]);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('bad_request');
    }
    const big = await post(JSON.stringify({ command: cmd, pad: 'x'.repeat(100_000) }), withSecret);
    expect(big.status).toBe(413);
    const get = await post('', withSecret, 'GET');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    await sleep(200);
    expect(commandsReceived()).toEqual([]);
  });
});

describe('a gateway the worker cannot reach', () => {
  it('fails the hand-over for a gateway not in the directory', async () => {
    await expect(
      route.deliverUpgradeCommand({ gatewayId: 'never-started', command: commandFor(online, 'cmd-3') }),
    ).rejects.toThrow(/not in the gateway directory/);
  });

  it('fails it for a gateway that does not answer, and reads its address again next time', async () => {
    const gone = `gone-${process.pid}`;
    await registerGateway(t.db, gone, `http://127.0.0.1:${await freePort()}/commands`);
    await expect(
      route.deliverUpgradeCommand({ gatewayId: gone, command: commandFor(online, 'cmd-4') }),
    ).rejects.toThrow(new RegExp(`gateway ${gone}`));
    // Back at another address (restarted elsewhere): the next hand-over finds it there.
    await registerGateway(t.db, gone, t.gateway.commandUrl);
    expect(await route.deliverUpgradeCommand({ gatewayId: gone, command: commandFor(online, 'cmd-5') })).toMatchObject({
      delivery: 'delivered',
    });
    await until(() => commandsReceived().length === 1, 5000, 'the command at the device');
  });

  it('fails it for a gateway that takes the connection and never answers', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const mute = `mute-${process.pid}`;
      await registerGateway(t.db, mute, `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/commands`);
      const impatient = createRouteActivities({
        db: t.db,
        serviceSecret: SERVICE.password,
        log: silentLogger,
        deliveryTimeoutMs: 300,
      });
      await expect(
        impatient.deliverUpgradeCommand({ gatewayId: mute, command: commandFor(online, 'cmd-6') }),
      ).rejects.toThrow(/no answer within 300 ms/);
    } finally {
      silent.close();
    }
  });
});
