/**
 * Identity edges: a deleted device loses its session and its commands (by the
 * API's notice, by the periodic re-check, and on command delivery), and no
 * device can end another device's session by reusing its client id.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Connection } from '@temporalio/client';
import { createApiApp } from '../../api/routes';
import { loadConfig } from '../../config/config';
import { upgradeCommandTopic } from '../../orchestration/device-events';
import { silentLogger } from '../../runtime/log';
import { temporalAddress } from '../helpers/stack';
import {
  connectDevice,
  connectRaw,
  connectService,
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

const removeFromRegistry = (t: TestGateway, d: TestDevice) =>
  t.db.collection('devices').deleteOne({ productKey: d.productKey, deviceKey: d.deviceKey });

describe('a deleted device', () => {
  let t: TestGateway;

  beforeAll(async () => {
    // Re-check rarely, so that only the path under test can end the session.
    t = await startTestGateway('identity', { limits: { identityRecheckMs: 3_600_000 } });
  });
  afterAll(() => t.close());

  it('is disconnected at once when the API deletes it, and can no longer log in', async () => {
    const d = newDevice();
    await registerDevices(t.db, [d], '1.0.0');
    const config = loadConfig({
      ...process.env,
      OTA_API_TOKEN: '',
      OTA_API_HOST: '127.0.0.1',
      OTA_GATEWAY_URL: t.gateway.httpUrl,
    });
    const temporal = Connection.lazy({ address: temporalAddress() });
    const app = await createApiApp({ config, db: t.db, temporal, log: silentLogger });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const client = await connectDevice(t.url, d);
      let closed = false;
      client.on('close', () => (closed = true));
      const port = (server.address() as AddressInfo).port;
      const res = await fetch(`http://127.0.0.1:${port}/v1/devices/${d.productKey}/${d.deviceKey}`, {
        method: 'DELETE',
      });
      expect(res.status).toBe(200);
      await until(() => closed, 5000, 'the deleted device to be disconnected');
      expect(t.gateway.metrics.sessionsRevoked).toBeGreaterThanOrEqual(1);
      await expect(connectDevice(t.url, d)).rejects.toMatchObject({ code: 4 });
      client.end(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await temporal.close();
    }
  });

  it('receives no command once it left the registry, even before anyone told the gateway', async () => {
    const d = newDevice();
    await registerDevices(t.db, [d], '1.0.0');
    const client = await connectDevice(t.url, d);
    const box = inbox(client);
    let closed = false;
    client.on('close', () => (closed = true));
    await removeFromRegistry(t, d);
    const service = await connectService(t.url);
    const before = t.gateway.metrics.commands.undelivered;
    await service.publishAsync(upgradeCommandTopic(d), JSON.stringify({ id: '1', method: 'ota.device.upgrade' }), {
      qos: 1,
    });
    await until(() => t.gateway.metrics.commands.undelivered === before + 1, 5000, 'the command to be refused');
    await until(() => closed, 5000, 'the session to end');
    expect(box).toEqual([]);
    await service.endAsync();
    client.end(true);
  });

  it('answers a malformed notice 400 and changes nothing', async () => {
    const res = await fetch(`${t.gateway.httpUrl}/registry-changed`, { method: 'POST', body: '{"productKey": 1}' });
    expect(res.status).toBe(400);
    const big = await fetch(`${t.gateway.httpUrl}/registry-changed`, { method: 'POST', body: 'x'.repeat(100_000) });
    expect(big.status).toBe(400);
  });
});

describe('the periodic re-check', () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway('identity-recheck', { limits: { identityRecheckMs: 1000 } });
  });
  afterAll(() => t.close());

  it('disconnects a device deleted without a notice within one interval', async () => {
    const [gone, stays] = [newDevice(), newDevice()];
    await registerDevices(t.db, [gone, stays], '1.0.0');
    const goneClient = await connectDevice(t.url, gone);
    const staysClient = await connectDevice(t.url, stays);
    let closed = false;
    goneClient.on('close', () => (closed = true));
    await removeFromRegistry(t, gone);
    await until(() => closed, 5000, 'the re-check to disconnect the deleted device');
    await sleep(1500);
    expect(staysClient.connected).toBe(true);
    goneClient.end(true);
    await staysClient.endAsync();
  });
});

describe('client ids', () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway('identity-ids');
  });
  afterAll(() => t.close());

  it('a device logging in with the client id of another device does not end its session', async () => {
    const [victim, other] = [newDevice(), newDevice()];
    await registerDevices(t.db, [victim, other], '1.0.0');
    // Same signClientId and timestamp: both send the very same client id string.
    const victimClient = await connectDevice(t.url, victim, { signClientId: 'shared' });
    let closed = false;
    victimClient.on('close', () => (closed = true));
    const otherClient = await connectDevice(t.url, other, { signClientId: 'shared' });
    expect(victimClient.options.clientId).toBe(otherClient.options.clientId);
    await sleep(300);
    expect(closed).toBe(false);
    expect(t.events.of('disconnected', victim)).toEqual([]);
    await victimClient.endAsync();
    await otherClient.endAsync();
  });

  it('the service identity cannot end a device session by its client id either', async () => {
    const victim = newDevice();
    await registerDevices(t.db, [victim], '1.0.0');
    const victimClient = await connectDevice(t.url, victim);
    let closed = false;
    victimClient.on('close', () => (closed = true));
    const service = await connectRaw(t.url, {
      clientId: victimClient.options.clientId,
      username: SERVICE.username,
      password: SERVICE.password,
    });
    await sleep(300);
    expect(closed).toBe(false);
    await service.endAsync();
    await victimClient.endAsync();
  });
});
