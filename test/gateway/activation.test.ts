/**
 * Dynamic activation (securemode=3) over real MQTT against the in-process
 * gateway: the device's secret is handed over once, to a session that can do
 * nothing else, and the device then logs in with it.
 */
import type { MqttClient } from 'mqtt';
import { putProduct } from '../../db/products';
import { activationPublish, activationSubscribe } from '../../gateway/acl';
import { activationCredentials, computeSign } from '../../gateway/auth';
import {
  connectDevice,
  connectRaw,
  inbox,
  newDevice,
  registerDevices,
  registryDoc,
  sleep,
  startTestGateway,
  subscribeCodes,
  until,
  type TestDevice,
  type TestGateway,
} from './support';

const PK = 'pk-dynamic';
const PK_STATIC = 'pk-static';

interface ActivateInfo {
  id: string;
  version: string;
  method: string;
  params: { productKey: string; deviceKey: string; deviceSecret: string; assetId: string };
}

describe('dynamic activation (securemode=3)', () => {
  let t: TestGateway;
  let productSecret: string;
  let staticProductSecret: string;
  const open: MqttClient[] = [];

  beforeAll(async () => {
    t = await startTestGateway('activation');
    productSecret = (await putProduct(t.db, PK, { dynamicActivation: true })).productSecret as string;
    staticProductSecret = (await putProduct(t.db, PK_STATIC, { dynamicActivation: false })).productSecret as string;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync()));
  });
  afterAll(() => t.close());

  const infoTopic = (d: TestDevice) => `/ext/session/${d.productKey}/${d.deviceKey}/thing/activate/info`;
  const refused = (reason: string) => t.gateway.metrics.connections.refused[reason] ?? 0;
  const eventsOf = (d: TestDevice) =>
    t.events.calls.filter((c) => c.device.productKey === d.productKey && c.device.deviceKey === d.deviceKey);

  /** Logs in with the product secret, as an SDK configured for dynamic activation does. */
  async function activate(d: TestDevice, secret = productSecret) {
    const client = await connectRaw(
      t.url,
      activationCredentials({
        productKey: d.productKey,
        deviceKey: d.deviceKey,
        productSecret: secret,
        timestamp: '1',
      }),
    );
    open.push(client);
    const box = inbox(client);
    const infos = () => box.filter((m) => m.topic === infoTopic(d)).map((m) => m.body as ActivateInfo);
    await until(() => infos().length > 0, 3000, 'activation info');
    return { client, box, infos };
  }

  const answer = (client: MqttClient, d: TestDevice, body: unknown) =>
    client.publishAsync(`${infoTopic(d)}_reply`, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });

  const activatedAt = async (d: TestDevice) => (await registryDoc(t.db, d))?.activatedAt as Date | undefined;

  it('hands a registered device its secret, marks it activated on a 200 answer, and lets it in with that secret', async () => {
    const d = newDevice(PK);
    await registerDevices(t.db, [d]);
    const pushedBefore = t.gateway.metrics.activations.pushed;

    const { client, infos } = await activate(d);
    const [info] = infos();
    expect(info).toEqual({
      id: expect.any(String),
      version: '1.0',
      method: 'thing.activate.info',
      params: { productKey: PK, deviceKey: d.deviceKey, deviceSecret: d.deviceSecret, assetId: '' },
    });
    expect(t.gateway.metrics.activations.pushed).toBe(pushedBefore + 1);
    expect(await activatedAt(d)).toBeUndefined();

    // Java sends `{id, code, message}` (nulls left out) at QoS 0.
    await client.publishAsync(
      `${infoTopic(d)}_reply`,
      JSON.stringify({ id: info.id, code: 200, message: 'persistent the device secret success' }),
      { qos: 0 },
    );
    await until(async () => (await activatedAt(d)) instanceof Date, 5000, 'activatedAt');
    const firstActivation = await activatedAt(d);
    // The activation session was never the device being online.
    expect(await registryDoc(t.db, d)).toMatchObject({ online: false, lastSeenAt: null });
    expect(eventsOf(d)).toEqual([]);
    await client.endAsync();

    // Reconnect as the SDK does: securemode=2 with the secret it was given.
    open.push(await connectDevice(t.url, { ...d, deviceSecret: info.params.deviceSecret }));
    await until(async () => (await registryDoc(t.db, d))?.online === true, 5000, 'online');
    await t.events.waitFor(() => t.events.of('connected', d).length === 1, 5000, 'connected event');
    expect(await activatedAt(d)).toEqual(firstActivation);
  });

  it('activates a device at its first login with its own secret; mode 3 is refused from then on', async () => {
    const d = newDevice(PK);
    await registerDevices(t.db, [d]);
    open.push(await connectDevice(t.url, d));
    await until(async () => (await activatedAt(d)) instanceof Date, 5000, 'activatedAt');
    const before = refused('device already activated');
    await expect(activate(d)).rejects.toMatchObject({ code: 5 });
    expect(refused('device already activated')).toBe(before + 1);
  });

  it.each<[string, number, string, () => Promise<{ device: TestDevice; secret: string }>]>([
    [
      'a product without dynamic activation',
      5,
      'dynamic activation off',
      async () => ({ device: await registered(PK_STATIC), secret: staticProductSecret }),
    ],
    [
      'an unknown product',
      4,
      'unknown product',
      async () => ({ device: await registered('pk-nobody-made'), secret: productSecret }),
    ],
    ['an unknown device', 4, 'unknown device', async () => ({ device: newDevice(PK), secret: productSecret })],
    [
      'a wrong product secret',
      4,
      'wrong product signature',
      async () => ({ device: await registered(PK), secret: staticProductSecret }),
    ],
    [
      'a device already activated',
      5,
      'device already activated',
      async () => {
        const device = await registered(PK);
        await t.db
          .collection('devices')
          .updateOne({ productKey: PK, deviceKey: device.deviceKey }, { $set: { activatedAt: new Date() } });
        return { device, secret: productSecret };
      },
    ],
    [
      'a device that logged in with its own secret before activation was recorded',
      5,
      'device already activated',
      async () => {
        const device = await registered(PK);
        await t.db
          .collection('devices')
          .updateOne({ productKey: PK, deviceKey: device.deviceKey }, { $set: { lastSeenAt: new Date() } });
        return { device, secret: productSecret };
      },
    ],
  ])('refuses %s with CONNACK %i (%s), counts the reason and hands out nothing', async (_name, code, reason, setup) => {
    const { device, secret } = await setup();
    const pushed = t.gateway.metrics.activations.pushed;
    const before = refused(reason);
    await expect(activate(device, secret)).rejects.toMatchObject({ code });
    expect(refused(reason)).toBe(before + 1);
    expect(t.gateway.metrics.activations.pushed).toBe(pushed);
    expect(eventsOf(device)).toEqual([]);
  });

  async function registered(productKey: string): Promise<TestDevice> {
    const d = newDevice(productKey);
    await registerDevices(t.db, [d]);
    return d;
  }

  it('refuses message integration (mode 4) as not authorized, with its own reason', async () => {
    const ts = '1';
    const sign = computeSign(
      { signClientId: PK, deviceKey: '%channel%', productKey: PK, timestamp: ts, secret: productSecret },
      'sha256',
    );
    const before = refused('unsupported securemode 4');
    await expect(
      connectRaw(t.url, {
        clientId: `${PK}|securemode=4,signmethod=sha256,timestamp=${ts}|`,
        username: `%channel%&${PK}`,
        password: sign,
      }),
    ).rejects.toMatchObject({ code: 5 });
    expect(refused('unsupported securemode 4')).toBe(before + 1);
  });

  it('lets an activation session publish nothing but its answer: no OTA reports, not online, no events', async () => {
    const d = newDevice(PK);
    await registerDevices(t.db, [d]);
    const { client, box } = await activate(d);
    const refusedBefore = t.gateway.metrics.messages.refused ?? 0;

    const sys = `/sys/${PK}/${d.deviceKey}/ota/device`;
    await client.publishAsync(
      `${sys}/inform`,
      JSON.stringify({ id: '1', method: 'ota.device.inform', params: { version: '9.9' } }),
      { qos: 1 },
    );
    await client.publishAsync(
      `${sys}/progress`,
      JSON.stringify({ id: '2', method: 'ota.device.progress', params: { step: '100' } }),
      { qos: 1 },
    );
    await client.publishAsync(`/ext/session/${PK}/someone-else/thing/activate/info_reply`, '{"id":"1","code":200}', {
      qos: 1,
    });
    await until(() => (t.gateway.metrics.messages.refused ?? 0) === refusedBefore + 3, 3000, 'refusals counted');
    // The SUBACK answers a later packet on the same connection: any reply to the refused ones came before it.
    expect(await subscribeCodes(client, [infoTopic(d), `/sys/${PK}/${d.deviceKey}/#`])).toEqual([1, 128]);

    expect(box.map((m) => m.topic)).toEqual([infoTopic(d)]);
    expect(await registryDoc(t.db, d)).toMatchObject({ online: false, lastSeenAt: null });
    expect((await registryDoc(t.db, d))?.firmwareVersion).toBeUndefined();
    await client.endAsync();
    await sleep(200);
    expect(eventsOf(d)).toEqual([]);
  });

  it('counts a malformed or stray answer, keeps the session, and activates only on a 200 to its own push', async () => {
    const d = newDevice(PK);
    await registerDevices(t.db, [d]);
    const { client, infos } = await activate(d);
    const malformed = t.gateway.metrics.malformedPayloads;

    for (const bad of ['garbage', '', '[1]', '{"id":"1"}', '{"code":200}', '{"id":"1","code":"ok"}']) {
      await answer(client, d, bad);
    }
    await until(() => t.gateway.metrics.malformedPayloads === malformed + 6, 3000, 'malformed answers counted');
    // Well formed, but naming no push of this session.
    await answer(client, d, { id: 'not-ours', code: 200 });
    // A later malformed answer on the same connection, counted: the stray one has been handled by then.
    await answer(client, d, 'garbage');
    await until(() => t.gateway.metrics.malformedPayloads === malformed + 7, 3000, 'the later answer counted');
    expect(await activatedAt(d)).toBeUndefined();
    expect(client.connected).toBe(true);

    await answer(client, d, { id: infos()[0].id, code: '200', message: 'device activate success', data: null });
    await until(async () => (await activatedAt(d)) instanceof Date, 5000, 'activatedAt');
  });

  it('pushes again when the device answers with another code, as Java does before its handler is registered', async () => {
    const d = newDevice(PK);
    await registerDevices(t.db, [d]);
    const declined = t.gateway.metrics.activations.declined;
    const { client, infos } = await activate(d);

    await answer(client, d, { id: infos()[0].id, code: 1101, message: 'downstream command handler not registered' });
    await until(() => infos().length === 2, 3000, 'second push');
    expect(t.gateway.metrics.activations.declined).toBe(declined + 1);
    const [first, second] = infos();
    expect(second.id).not.toBe(first.id);
    expect(second.params.deviceSecret).toBe(d.deviceSecret);
    expect(await activatedAt(d)).toBeUndefined();

    await answer(client, d, { id: second.id, code: 200 });
    await until(async () => (await activatedAt(d)) instanceof Date, 5000, 'activatedAt');
  });
});

describe('activation ACL', () => {
  const me = { productKey: 'pk', deviceKey: 'dk' };

  it('lets an activation session publish only its own answer, and subscribe only to its activation info', () => {
    expect(activationPublish(me, '/ext/session/pk/dk/thing/activate/info_reply')).toEqual({ allow: true });
    for (const topic of [
      '/ext/session/pk/dk/thing/activate/info',
      '/ext/session/pk/other/thing/activate/info_reply',
      '/sys/pk/dk/ota/device/inform',
      '/sys/pk/dk/thing/measurepoint/post',
      'elsewhere',
    ]) {
      expect([topic, activationPublish(me, topic).allow]).toEqual([topic, false]);
    }
    expect(activationSubscribe(me, '/ext/session/pk/dk/thing/activate/info')).toBe(true);
    for (const filter of ['#', '/ext/session/pk/dk/#', '/ext/session/pk/+/thing/activate/info', '/sys/pk/dk/#']) {
      expect([filter, activationSubscribe(me, filter)]).toEqual([filter, false]);
    }
  });
});
