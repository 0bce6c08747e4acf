/** OTA topics, replies, command delivery and the ACL, over real MQTT against the in-process gateway. */
import type { MqttClient } from 'mqtt';
import type { FirmwareOffer } from '../../domain/types';
import {
  connectDevice,
  connectService,
  inbox,
  roundTrip,
  newDevice,
  registerDevices,
  registryDoc,
  startTestGateway,
  subscribeCodes,
  until,
  type TestGateway,
} from './support';

const offer: FirmwareOffer = {
  version: '2.0.0',
  signMethod: 'md5',
  sign: 'ABCDEF0123',
  fileUrl: '/fw/2.0.0',
  fileSize: 1024,
};

describe('gateway OTA topics', () => {
  let t: TestGateway;
  const a = newDevice();
  const b = newDevice();
  const idle = newDevice();
  let devA: MqttClient;
  let inA: ReturnType<typeof inbox>;
  let service: MqttClient;

  beforeAll(async () => {
    t = await startTestGateway('ota', { getversionTimeoutMs: 500 });
    await registerDevices(t.db, [a, b, idle], '1.0.0');
    devA = await connectDevice(t.url, a);
    inA = inbox(devA);
    service = await connectService(t.url);
  });
  afterAll(async () => {
    await Promise.all([devA.endAsync(), service.endAsync()]);
    await t.close();
  });

  const topic = (suffix: string, d = a) => `/sys/${d.productKey}/${d.deviceKey}/ota/device/${suffix}`;
  const replyTo = async (suffix: string, body: unknown, id: string) => {
    await devA.publishAsync(topic(suffix), typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
    await until(
      () => inA.some((m) => m.topic === `${topic(suffix)}_reply` && (m.body as { id?: unknown })?.id === id),
      3000,
      `${suffix} reply ${id}`,
    );
    return inA.find((m) => m.topic === `${topic(suffix)}_reply` && (m.body as { id?: unknown }).id === id)!
      .body as Record<string, unknown>;
  };

  it('answers inform at once with the same id as a string and code 200, and stores the version', async () => {
    // No SUBSCRIBE to inform_reply: the gateway delivers replies to the session anyway.
    const reply = await replyTo(
      'inform',
      { id: '5', version: '1.1', method: 'ota.device.inform', params: { version: '1.2.0' } },
      '5',
    );
    expect(reply).toEqual({ id: '5', code: 200, data: {}, message: '' });
    await until(async () => (await registryDoc(t.db, a))?.firmwareVersion === '1.2.0', 3000, 'stored version');
    const doc = await registryDoc(t.db, a);
    expect(doc?.versionReportedAt).toBeInstanceOf(Date);
    await t.events.waitFor(() => t.events.of('versionReported', a).some((c) => c.version === '1.2.0'));
  });

  it('accepts the Python and legacy method aliases and a numeric version', async () => {
    expect(
      await replyTo('inform', { id: '6', version: '1.0', method: 'ota.inform', params: { version: 1.5 } }, '6'),
    ).toMatchObject({ code: 200 });
    expect(
      await replyTo('progress', { id: '7', method: 'ota.progress', params: { step: 35, desc: 'x' } }, '7'),
    ).toMatchObject({ code: 200 });
    expect(await replyTo('getversion', { id: '8', method: 'Ota.device.getversion', params: {} }, '8')).toMatchObject({
      code: 200,
      data: [],
    });
    expect(await replyTo('request', { id: '9', method: 'ota.request', params: {} }, '9')).toMatchObject({
      code: 200,
      data: [],
    });
    await t.events.waitFor(() => t.events.of('versionReported', a).some((c) => c.version === '1.5'));
    await t.events.waitFor(() => t.events.of('progressReported', a).some((c) => c.step === 35 && c.desc === 'x'));
  });

  it('passes progress steps to the orchestration in order as integers', async () => {
    for (const [i, step] of ['20', '50', '-2'].entries()) {
      expect(
        await replyTo(
          'progress',
          { id: `p${i}`, method: 'ota.device.progress', params: { step, desc: `s${step}` } },
          `p${i}`,
        ),
      ).toEqual({
        id: `p${i}`,
        code: 200,
        data: {},
        message: '',
      });
    }
    await t.events.waitFor(() => t.events.of('progressReported', a).length >= 4);
    expect(
      t.events
        .of('progressReported', a)
        .slice(-3)
        .map((c) => c.step),
    ).toEqual([20, 50, -2]);
  });

  it('answers inform promptly even when the orchestration is slow', async () => {
    const slow = await startTestGateway('ota-slow', { events: { delayMs: 5000 } });
    const d = newDevice();
    await registerDevices(slow.db, [d]);
    const client = await connectDevice(slow.url, d);
    const box = inbox(client);
    const returnedBefore = slow.events.returned;
    await client.publishAsync(
      topic('inform', d),
      JSON.stringify({ id: '1', method: 'ota.device.inform', params: { version: '9' } }),
      { qos: 1 },
    );
    await until(() => box.some((m) => m.topic.endsWith('inform_reply')), 10_000, 'inform reply');
    // The report reaches the orchestration after the reply has gone (the reply does not wait for it),
    // and the orchestration is still busy with it: the reply did not wait for it either.
    await slow.events.waitFor(() => slow.events.of('versionReported', d).length === 1);
    expect(slow.events.returned).toBe(returnedBefore);
    await client.endAsync();
    await slow.close();
  });

  it('getversion returns the offers of the orchestration as a JSON array, [] when none', async () => {
    t.events.offer([offer, { ...offer, version: '2.1.0' }], a);
    const reply = await replyTo('getversion', { id: '10', method: 'ota.device.getversion', params: {} }, '10');
    expect(reply).toEqual({
      id: '10',
      code: 200,
      message: '',
      data: [
        { ...offer, sign: 'abcdef0123' },
        { ...offer, version: '2.1.0', sign: 'abcdef0123' },
      ],
    });
    t.events.offer([], a);
    expect((await replyTo('getversion', { id: '11', method: 'ota.device.getversion', params: {} }, '11')).data).toEqual(
      [],
    );
  });

  it('answers getversion with [] when the orchestration does not answer in time', async () => {
    const slow = await startTestGateway('ota-offer-slow', { events: { offerDelayMs: 3000 }, getversionTimeoutMs: 300 });
    const d = newDevice();
    await registerDevices(slow.db, [d]);
    slow.events.offer([offer]);
    const client = await connectDevice(slow.url, d);
    const box = inbox(client);
    await client.publishAsync(topic('getversion', d), JSON.stringify({ id: '1', method: 'ota.device.getversion' }), {
      qos: 1,
    });
    await until(() => box.some((m) => m.topic.endsWith('getversion_reply')), 2000, 'reply');
    expect(box[0].body).toEqual({ id: '1', code: 200, data: [], message: '' });
    expect(slow.gateway.metrics.getversionTimeouts).toBe(1);
    await client.endAsync();
    await slow.close();
  });

  it('passes upgrade_reply to the orchestration with a lenient code and sends no reply to it', async () => {
    const before = inA.length;
    await devA.publishAsync(
      topic('upgrade_reply'),
      JSON.stringify({ id: 'cmd-1', code: '1101', data: '', message: 'no handler' }),
      { qos: 1 },
    );
    await t.events.waitFor(() => t.events.of('upgradeReplied', a).length === 1);
    expect(t.events.of('upgradeReplied', a)[0]).toMatchObject({
      commandId: 'cmd-1',
      code: 1101,
      message: 'no handler',
    });
    const probe = await roundTrip(devA, a, inA);
    expect(inA.slice(before).map((m) => (m.body as { id?: unknown }).id)).toEqual([probe]);
  });

  it('delivers a service command to a device that never subscribed, with QoS 1, exactly once', async () => {
    // Even a device that subscribed to its own prefix must not get the command twice.
    await devA.subscribeAsync(`/sys/${a.productKey}/${a.deviceKey}/#`, { qos: 1 });
    const command = { id: 'c1', version: '1.0', method: 'ota.device.upgrade', params: offer };
    const delivered = t.gateway.metrics.commands.delivered;
    await service.publishAsync(topic('upgrade'), JSON.stringify(command), { qos: 1 });
    await until(() => inA.some((m) => m.topic === topic('upgrade')), 3000, 'command');
    // A second command on the same service connection: once it is in, a duplicate of the first would be too.
    await service.publishAsync(topic('upgrade'), JSON.stringify({ ...command, id: 'c1-next' }), { qos: 1 });
    await until(() => inA.some((m) => (m.body as { id?: unknown }).id === 'c1-next'), 3000, 'the next command');
    const got = inA.filter((m) => m.topic === topic('upgrade') && (m.body as { id?: unknown }).id === 'c1');
    expect(got).toHaveLength(1);
    expect(got[0].qos).toBe(1);
    expect(got[0].body).toEqual(command);
    expect(t.gateway.metrics.commands.delivered).toBe(delivered + 2);
  });

  it('counts a command for an offline device as undelivered', async () => {
    const undelivered = t.gateway.metrics.commands.undelivered;
    await service.publishAsync(
      topic('upgrade', idle),
      JSON.stringify({ id: 'c2', method: 'ota.device.upgrade', params: offer }),
      { qos: 1 },
    );
    await until(() => t.gateway.metrics.commands.undelivered === undelivered + 1, 2000, 'undelivered count');
  });

  it('refuses a device publishing to another device, its own command topic, or anything but /sys', async () => {
    const devB = await connectDevice(t.url, b);
    const inB = inbox(devB);
    const refused = t.gateway.metrics.messages.refused ?? 0;
    await devA.publishAsync(
      topic('inform', b),
      JSON.stringify({ id: '1', method: 'ota.device.inform', params: { version: '6.6.6' } }),
      { qos: 1 },
    );
    await devA.publishAsync(
      topic('progress', b),
      JSON.stringify({ id: '2', method: 'ota.device.progress', params: { step: '-1' } }),
      { qos: 1 },
    );
    await devA.publishAsync(
      topic('upgrade', b),
      JSON.stringify({ id: '3', method: 'ota.device.upgrade', params: offer }),
      { qos: 1 },
    );
    await devA.publishAsync(
      topic('upgrade'),
      JSON.stringify({ id: '4', method: 'ota.device.upgrade', params: offer }),
      { qos: 1 },
    );
    await devA.publishAsync('some/other/topic', 'x', { qos: 1 });
    await until(() => (t.gateway.metrics.messages.refused ?? 0) === refused + 5, 2000, 'refusals counted');
    await roundTrip(devA, a, inA);
    expect((await registryDoc(t.db, b))?.firmwareVersion).toBe('1.0.0');
    expect(t.events.calls.filter((c) => c.device.deviceKey === b.deviceKey && c.type !== 'connected')).toEqual([]);
    expect(inB).toEqual([]);
    expect(devA.connected).toBe(true);
    await devB.endAsync();
  });

  it("refuses subscriptions to another device's topics and broad wildcards", async () => {
    const codes = await subscribeCodes(devA, [
      '#',
      '/sys/#',
      `/sys/${b.productKey}/+/ota/device/upgrade`,
      `/sys/${b.productKey}/${b.deviceKey}/#`,
      `/sys/+/${a.deviceKey}/#`,
      `/sys/${a.productKey}/${a.deviceKey}/ota/device/progress_reply`,
    ]);
    expect(codes).toEqual([128, 128, 128, 128, 128, 1]);
    const service2 = await connectService(t.url);
    expect(await subscribeCodes(service2, ['#'])).toEqual([128]);
    await service2.endAsync();
    // b's traffic still never reaches a.
    const devB = await connectDevice(t.url, b);
    const inB = inbox(devB);
    const before = inA.length;
    await devB.publishAsync(
      topic('inform', b),
      JSON.stringify({ id: '1', method: 'ota.device.inform', params: { version: '1.0.0' } }),
      { qos: 1 },
    );
    await service.publishAsync(
      topic('upgrade', b),
      JSON.stringify({ id: 'c9', method: 'ota.device.upgrade', params: offer }),
      { qos: 1 },
    );
    // Both reached b: had either been routed to a as well, it would be there by now.
    await until(() => inB.some((m) => m.topic === `${topic('inform', b)}_reply`), 3000, "b's inform reply");
    await until(() => inB.some((m) => m.topic === topic('upgrade', b)), 3000, "b's command");
    expect(inA.slice(before)).toEqual([]);
    await devB.endAsync();
  });
});
