/** Presence in the registry and towards the orchestration, and the newer session winning. */
import { connect } from 'mqtt';
import { deviceCredentials } from '../../gateway/auth';
import {
  connectDevice,
  inbox,
  newDevice,
  registerDevices,
  registryDoc,
  startTestGateway,
  until,
  type TestGateway,
} from './support';

describe('gateway presence', () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway('presence');
  });
  afterAll(() => t.close());

  const online = async (d: { productKey: string; deviceKey: string }) => (await registryDoc(t.db, d))?.online;

  it('stores online on connect and offline on a clean disconnect, and tells the orchestration', async () => {
    const d = newDevice();
    await registerDevices(t.db, [d]);
    const client = await connectDevice(t.url, d);
    await until(async () => (await online(d)) === true, 3000, 'online');
    expect((await registryDoc(t.db, d))?.lastSeenAt).toBeInstanceOf(Date);
    await t.events.waitFor(() => t.events.of('connected', d).length === 1);
    await client.endAsync();
    await until(async () => (await online(d)) === false, 3000, 'offline');
    await t.events.waitFor(() => t.events.of('disconnected', d).length === 1);
  });

  it('marks a device offline when its socket dies without DISCONNECT', async () => {
    const d = newDevice();
    await registerDevices(t.db, [d]);
    const client = await connectDevice(t.url, d);
    await until(async () => (await online(d)) === true, 3000, 'online');
    client.stream.destroy();
    client.end(true);
    await until(async () => (await online(d)) === false, 3000, 'offline');
    await t.events.waitFor(() => t.events.of('disconnected', d).length === 1);
  });

  it('marks a device offline on keepalive timeout', async () => {
    const d = newDevice();
    await registerDevices(t.db, [d]);
    // keepalive 1 s; the client stops sending PINGREQs, so the broker times it out after 1.5 s.
    const creds = deviceCredentials({ ...d, timestamp: '1' });
    const client = connect(t.url, { ...creds, protocolVersion: 4, keepalive: 1, reconnectPeriod: 0 });
    client.on('error', () => undefined);
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await until(async () => (await online(d)) === true, 3000, 'online');
    // Silence the client without closing its socket: drop every outgoing packet, and stop
    // its own keepalive check, which would otherwise close the socket at the same 1.5 s and
    // race the broker's timeout.
    client.stream.write = () => true;
    client.keepaliveManager.destroy();
    await until(async () => (await online(d)) === false, 6000, 'offline after keepalive');
    await t.events.waitFor(() => t.events.of('disconnected', d).some((c) => c.reason === 'keepalive timeout'), 3000);
    client.end(true);
  });

  it('lets a newer session with the same client id win without flipping presence', async () => {
    const d = newDevice();
    await registerDevices(t.db, [d]);
    const first = await connectDevice(t.url, d);
    await until(async () => (await online(d)) === true, 3000, 'online');
    const second = await connectDevice(t.url, d);
    await until(() => !first.connected, 3000, 'first session closed');
    // The newer session is the live one: replies reach it, and its report is an event after the takeover.
    const box = inbox(second);
    await second.publishAsync(
      `/sys/${d.productKey}/${d.deviceKey}/ota/device/inform`,
      JSON.stringify({ id: '1', method: 'ota.device.inform', params: { version: '3' } }),
      { qos: 1 },
    );
    await until(() => box.length === 1, 3000, 'reply on the new session');
    await t.events.waitFor(() => t.events.of('versionReported', d).length === 1, 3000, 'the later report');
    expect(await online(d)).toBe(true);
    expect(t.events.of('disconnected', d)).toEqual([]);
    await second.endAsync();
    await until(async () => (await online(d)) === false, 3000, 'offline at the end');
  });

  it('closes the older session of the same device under another client id, presence staying online', async () => {
    const d = newDevice();
    await registerDevices(t.db, [d]);
    const first = await connectDevice(t.url, d, { signClientId: `${d.deviceKey}{ip=1.1.1.1}` });
    await until(async () => (await online(d)) === true, 3000, 'online');
    const second = await connectDevice(t.url, d, { signClientId: `${d.deviceKey}{ip=2.2.2.2}` });
    await until(() => !first.connected, 3000, 'first session closed');
    // A later event from the live session: the older one's close has been handled by then.
    await second.publishAsync(
      `/sys/${d.productKey}/${d.deviceKey}/ota/device/inform`,
      JSON.stringify({ id: '2', method: 'ota.device.inform', params: { version: '3' } }),
      { qos: 1 },
    );
    await t.events.waitFor(() => t.events.of('versionReported', d).length === 1, 3000, 'the later report');
    expect(await online(d)).toBe(true);
    expect(t.events.of('disconnected', d)).toEqual([]);
    expect(t.events.of('connected', d)).toHaveLength(2);
    await second.endAsync();
    await until(async () => (await online(d)) === false, 3000, 'offline at the end');
  });
});
