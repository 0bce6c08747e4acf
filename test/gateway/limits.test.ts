/**
 * What one hostile connection may cost the gateway: each limit of the device
 * endpoint, with the defect it closes (every test here failed before the limits).
 */
import type { Readable } from 'node:stream';
import { devicePresenceStore } from '../../db/device-presence';
import { deviceCredentials } from '../../gateway/auth';
import { announce, deviceConnect, openRaw } from './raw';
import {
  connectDevice,
  connectRaw,
  inbox,
  newDevice,
  registerDevices,
  startTestGateway,
  until,
  type TestGateway,
} from './support';

const informTopic = (d: { productKey: string; deviceKey: string }) =>
  `/sys/${d.productKey}/${d.deviceKey}/ota/device/inform`;
const inform = (id: number, version = '1.0.1') =>
  JSON.stringify({ id: String(id), method: 'ota.device.inform', params: { version } });

describe('gateway limits', () => {
  let t: TestGateway;
  const device = newDevice();
  const other = newDevice();

  beforeAll(async () => {
    t = await startTestGateway('limits', {
      limits: { deviceRatePerSec: 1, deviceBurst: 5, loginFailureBurst: 3, loginFailuresPerSec: 1, maxConnections: 50 },
    });
    await registerDevices(t.db, [device, other], '1.0.0');
  });
  afterAll(() => t.close());

  it('closes an unauthenticated connection on the header of a CONNECT announcing 200 MB, before buffering it', async () => {
    const conn = await openRaw(t.gateway.mqttPort);
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    // Without the limit the broker buffered all of it (three such connections took the gateway from 78 to 379 MB).
    if (await conn.write(announce(0x10, 200 * 1024 * 1024))) {
      while (sent < 32 * 1024 * 1024 && (await conn.write(chunk))) sent += chunk.length;
    }
    await conn.closed;
    expect(sent).toBeLessThan(4 * 1024 * 1024);
    expect(t.gateway.metrics.dropped.too_large).toBeGreaterThanOrEqual(1);
  });

  it('closes a logged-in device whose PUBLISH announces more than the packet limit', async () => {
    const conn = await openRaw(t.gateway.mqttPort);
    conn.send(deviceConnect(device));
    await until(() => conn.received.some((p) => p.cmd === 'connack'), 5000, 'CONNACK');
    const before = t.gateway.metrics.dropped.too_large ?? 0;
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    if (await conn.write(announce(0x30, 64 * 1024 * 1024))) {
      while (sent < 32 * 1024 * 1024 && (await conn.write(chunk))) sent += chunk.length;
    }
    await conn.closed;
    expect(sent).toBeLessThan(4 * 1024 * 1024);
    expect(t.gateway.metrics.dropped.too_large).toBe(before + 1);
  });

  it('refuses QoS 2 by closing the connection, holding no PUBLISH for a PUBREL that never comes', async () => {
    const conn = await openRaw(t.gateway.mqttPort);
    conn.send(deviceConnect(device));
    await until(() => conn.received.some((p) => p.cmd === 'connack'), 5000, 'CONNACK');
    for (let i = 1; i <= 20; i += 1) {
      conn.send({
        cmd: 'publish',
        topic: informTopic(device),
        payload: inform(i),
        qos: 2,
        messageId: i,
        retain: false,
        dup: false,
      });
    }
    await until(() => conn.isClosed(), 5000, 'the connection to close');
    expect(conn.received.filter((p) => p.cmd === 'pubrec')).toEqual([]);
    expect(t.gateway.metrics.dropped.qos2).toBeGreaterThanOrEqual(1);
  });

  it('refuses a persistent session, so refused publishes are never queued for anyone', async () => {
    const creds = deviceCredentials({ ...device, timestamp: '1716900000001' });
    const persistent = await connectRaw(t.url, { ...creds, clean: false }).catch((err: unknown) => String(err));
    expect(persistent).toMatch(/Identifier rejected/i);
    if (typeof persistent !== 'string') {
      // Before the fix: accepted, and its subscription collected what other devices published to its topics.
      await persistent.subscribeAsync(`/sys/${device.productKey}/${device.deviceKey}/#`, { qos: 1 });
      await persistent.endAsync();
    }
    const intruder = await connectDevice(t.url, other);
    for (let i = 0; i < 10; i += 1) await intruder.publishAsync(informTopic(device), inform(i), { qos: 1 });
    await intruder.endAsync();
    // The broker's in-memory store, which Aedes' types do not declare.
    const store = (t.gateway.broker as unknown as { persistence: { outgoingStream(c: { id: string }): Readable } })
      .persistence;
    const queued = await countStream(store.outgoingStream({ id: creds.clientId }));
    expect({ persistent: typeof persistent !== 'string', queued }).toEqual({ persistent: false, queued: 0 });
  });

  it('drops what a device publishes over its rate, answering the requests 429, counted', async () => {
    const client = await connectDevice(t.url, device);
    const box = inbox(client);
    const before = t.gateway.metrics.dropped.rate ?? 0;
    for (let i = 1; i <= 20; i += 1) client.publish(informTopic(device), inform(100 + i), { qos: 0 });
    await until(() => box.length === 20, 5000, '20 replies');
    const codes = box.map((m) => (m.body as { code: number }).code);
    const tooMany = codes.filter((c) => c === 429).length;
    expect(codes.filter((c) => c !== 429 && c !== 200)).toEqual([]);
    expect(tooMany).toBeGreaterThanOrEqual(10);
    expect(t.gateway.metrics.dropped.rate).toBe(before + tooMany);
    // The 429 still names the request it answers.
    expect(box.find((m) => (m.body as { code: number }).code === 429)?.body).toMatchObject({
      id: expect.stringMatching(/^1\d\d$/),
    });
    await client.endAsync();
  });
});

describe('gateway login cost', () => {
  let t: TestGateway;
  let lookups = 0;

  beforeAll(async () => {
    t = await startTestGateway('login-cost', {
      limits: { loginFailureBurst: 100 },
      presenceStore: (db) => {
        const store = devicePresenceStore(db);
        return {
          findForLogin: (productKey, keys) => {
            lookups += 1;
            return store.findForLogin(productKey, keys);
          },
          update: (d, fields) => store.update(d, fields),
        };
      },
    });
  });
  afterAll(() => t.close());

  it('looks an unknown device up once, however often it tries', async () => {
    const ghost = newDevice();
    for (let i = 0; i < 8; i += 1) {
      await expect(connectDevice(t.url, ghost)).rejects.toMatchObject({ code: 4 });
    }
    expect(lookups).toBe(1);
  });
});

describe('gateway device queue', () => {
  let t: TestGateway;
  const device = newDevice();

  beforeAll(async () => {
    // A stalled orchestration: every call takes 3 s.
    t = await startTestGateway('device-queue', { limits: { deviceQueueDepth: 2 }, events: { delayMs: 3000 } });
    await registerDevices(t.db, [device], '1.0.0');
  });
  afterAll(() => t.close());

  it('drops the messages of a device whose queue of orchestration calls is full, answering 429, counted', async () => {
    const client = await connectDevice(t.url, device);
    const box = inbox(client);
    const topic = `/sys/${device.productKey}/${device.deviceKey}/ota/device/progress`;
    for (let i = 1; i <= 6; i += 1) {
      const body = JSON.stringify({ id: String(i), method: 'ota.device.progress', params: { step: i * 10, desc: '' } });
      await client.publishAsync(topic, body, { qos: 1 });
    }
    await until(() => box.length === 6, 5000, 'six replies');
    const codes = box.map((m) => (m.body as { code: number }).code);
    expect(codes.filter((c) => c === 429).length).toBeGreaterThanOrEqual(4);
    expect(codes.filter((c) => c !== 429 && c !== 200)).toEqual([]);
    expect(t.gateway.metrics.dropped.queue).toBe(codes.filter((c) => c === 429).length);
    client.end(true);
  });
});

describe('gateway login failure budget', () => {
  let t: TestGateway;
  const device = newDevice();

  beforeAll(async () => {
    t = await startTestGateway('login-budget', { limits: { loginFailureBurst: 3, loginFailuresPerSec: 1 } });
    await registerDevices(t.db, [device], '1.0.0');
  });
  afterAll(() => t.close());

  it('refuses logins from an address that used up its failure budget, before any lookup', async () => {
    const stranger = newDevice();
    const codes: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      try {
        const c = await connectDevice(t.url, { ...device, deviceSecret: `wrong-${stranger.deviceSecret}` });
        await c.endAsync();
        codes.push('accepted');
      } catch (err) {
        codes.push(String((err as { code?: number }).code ?? err));
      }
    }
    // 4: bad username or password (read, checked); 3: server unavailable (refused unread).
    expect(codes.slice(0, 3)).toEqual(['4', '4', '4']);
    expect(codes.slice(3).every((c) => c === '3')).toBe(true);
  });
});

describe('gateway connection limits', () => {
  let t: TestGateway;
  const device = newDevice();

  beforeAll(async () => {
    t = await startTestGateway('conn-limits', { limits: { maxConnections: 3, connectTimeoutMs: 300 } });
    await registerDevices(t.db, [device], '1.0.0');
  });
  afterAll(() => t.close());

  it('closes a connection that sends no CONNECT within the connect timeout', async () => {
    const conn = await openRaw(t.gateway.mqttPort);
    await until(() => conn.isClosed(), 5000, 'the idle connection to close');
  });

  it('closes connections past the maximum at accept', async () => {
    const held = await Promise.all([1, 2, 3].map(() => openRaw(t.gateway.mqttPort)));
    await until(() => t.gateway.metrics.connections.open === 3, 5000, 'three open connections');
    await expect(connectDevice(t.url, device)).rejects.toThrow();
    expect(t.gateway.metrics.connections.refused['too many connections']).toBe(1);
    held.forEach((c) => c.socket.destroy());
    await until(() => t.gateway.metrics.connections.open === 0, 5000, 'connections to close');
    const again = await connectDevice(t.url, device);
    await again.endAsync();
  });
});

function countStream(stream: Readable): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    stream.on('data', () => (n += 1));
    stream.on('end', () => resolve(n));
    stream.on('error', reject);
  });
}
