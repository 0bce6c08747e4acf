/** Device login and the service identity, over real MQTT against the in-process gateway. */
import type { MqttClient } from 'mqtt';
import { deviceCredentials } from '../../gateway/auth';
import {
  connectDevice,
  connectRaw,
  connectService,
  newDevice,
  registerDevices,
  SERVICE,
  startTestGateway,
  type TestGateway,
} from './support';

describe('gateway login', () => {
  let t: TestGateway;
  const device = newDevice();
  const open: MqttClient[] = [];

  beforeAll(async () => {
    t = await startTestGateway('login');
    await registerDevices(t.db, [device]);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync()));
  });
  afterAll(() => t.close());

  const methods = ['sha256', 'hmacsha256', 'sha1', 'hmacsha1', 'md5', 'hmacmd5', 'SHA256', 'HmacSHA1'];
  for (const signMethod of methods) {
    for (const upperCase of [false, true]) {
      it(`accepts a ${signMethod} signature in ${upperCase ? 'upper' : 'lower'}-case hex`, async () => {
        open.push(await connectDevice(t.url, device, { signMethod, upperCase }));
      });
    }
  }

  it('accepts a client id without signmethod signed with SHA-1, and Java 2.x long client ids', async () => {
    const ts = '1716900000000.123';
    const creds = deviceCredentials({ ...device, timestamp: ts, signMethod: 'sha1' });
    open.push(await connectRaw(t.url, { ...creds, clientId: `${device.deviceKey}|securemode=2,timestamp=${ts}|` }));
    for (const compress of ['DEFAULT', 'GZIP']) {
      const signClientId = `${device.deviceKey}{ip=10.1.2.3,version=enos-mqtt-2.2.16,compress=${compress}}`;
      open.push(await connectDevice(t.url, device, { signClientId, timestamp: ts }));
    }
  });

  it('accepts a reused (old) timestamp, as SDKs reconnect with the same one', async () => {
    open.push(await connectDevice(t.url, device, { timestamp: '1500000000000' }));
  });

  it('refuses a wrong secret, an unknown device and a tampered username with "bad username or password"', async () => {
    await expect(connectDevice(t.url, { ...device, deviceSecret: 'wrong' })).rejects.toMatchObject({ code: 4 });
    await expect(connectDevice(t.url, { ...device, deviceKey: 'nobody' })).rejects.toMatchObject({ code: 4 });
    const creds = deviceCredentials({ ...device, timestamp: '1' });
    await expect(connectRaw(t.url, { ...creds, username: `${device.deviceKey}&otherpk` })).rejects.toMatchObject({
      code: 4,
    });
    await expect(connectRaw(t.url, { ...creds, password: undefined })).rejects.toMatchObject({ code: 4 });
  });

  it('refuses a missing or garbled client id', async () => {
    const creds = deviceCredentials({ ...device, timestamp: '1' });
    for (const clientId of [
      '',
      'just-an-id',
      `${device.deviceKey}|signmethod=sha256|`,
      `${device.deviceKey}|securemode=2,timestamp=1`,
    ]) {
      await expect(connectRaw(t.url, { ...creds, clientId })).rejects.toMatchObject({ code: expect.any(Number) });
    }
  });

  it('refuses mode 4, unknown modes and LZ4/LZO-compressed Java sessions as not authorized', async () => {
    const creds = deviceCredentials({ ...device, timestamp: '1' });
    for (const mode of ['4', '1', 'x']) {
      const clientId = `${device.deviceKey}|securemode=${mode},signmethod=sha256,timestamp=1|`;
      await expect(connectRaw(t.url, { ...creds, clientId })).rejects.toMatchObject({ code: 5 });
    }
    for (const compress of ['LZ4', 'LZO']) {
      const signClientId = `${device.deviceKey}{compress=${compress}}`;
      await expect(connectDevice(t.url, device, { signClientId })).rejects.toMatchObject({ code: 5 });
    }
  });

  it('refuses mode 3 (dynamic activation) for a product that was never created, whatever the sign', async () => {
    const creds = deviceCredentials({ ...device, timestamp: '1' });
    const clientId = `${device.deviceKey}|securemode=3,signmethod=sha256,timestamp=1|`;
    await expect(connectRaw(t.url, { ...creds, clientId })).rejects.toMatchObject({ code: 4 });
  });

  it('accepts the service identity only with its password', async () => {
    open.push(await connectService(t.url));
    await expect(connectService(t.url, 'wrong')).rejects.toMatchObject({ code: 4 });
    await expect(connectRaw(t.url, { clientId: 'x', username: SERVICE.username })).rejects.toMatchObject({ code: 4 });
  });

  it('counts refusals by reason and never stores anything for refused logins', async () => {
    const res = await fetch(`${t.gateway.httpUrl}/metrics.json`);
    const metrics = (await res.json()) as { connections: { accepted: number; refused: Record<string, number> } };
    expect(metrics.connections.refused['wrong signature']).toBeGreaterThanOrEqual(1);
    expect(metrics.connections.refused['unknown device']).toBeGreaterThanOrEqual(1);
    expect(metrics.connections.refused['unsupported securemode 4']).toBe(1);
    expect(metrics.connections.refused['unsupported securemode']).toBe(2);
    expect(metrics.connections.refused['unknown product']).toBe(1);
    expect(metrics.connections.refused['unsupported compression LZO']).toBe(1);
    expect(metrics.connections.accepted).toBeGreaterThan(0);
    expect(await t.db.collection('devices').countDocuments()).toBe(1);
    const health = await (await fetch(`${t.gateway.httpUrl}/healthz`)).json();
    expect(health).toEqual({ status: 'up', clients: expect.any(Number) });
  });
});
