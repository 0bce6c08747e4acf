/**
 * A gateway killed outright closes no session, so the registry would keep its devices online
 * (and tasks would push to them). The real gateway process (dist/gateway/server.js), killed
 * with SIGKILL and started again, marks them offline before it accepts connections.
 */
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../config/config';
import { ManagedProcess } from '../../runtime/managed-process';
import { temporalAddress, testDb, unique } from '../helpers/stack';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { connectDevice, inbox, newDevice, registerDevices, registryDoc, sleep, until } from './support';
import { freePort } from '../../runtime/net';

describe('gateway restart after a crash', () => {
  let mongo: Awaited<ReturnType<typeof testDb>>;
  let gateway: ManagedProcess | undefined;
  let env: NodeJS.ProcessEnv;
  let mqttUrl: string;
  let healthUrl: string;
  let proxy: TcpProxy | undefined;

  const startGatewayProcess = async () => {
    gateway = new ManagedProcess({
      name: 'gateway',
      command: process.execPath,
      args: [path.join(PROJECT_ROOT, 'dist/gateway/server.js')],
      env,
      logFile: path.join(process.env.OTA_TEST_TMP ?? '/tmp', `${env.OTA_TASK_QUEUE}-gateway.log`),
    });
    await until(
      () =>
        fetch(healthUrl).then(
          (r) => r.ok,
          () => false,
        ),
      15_000,
      'the gateway to answer',
    );
  };

  beforeAll(async () => {
    mongo = await testDb('gateway-crash');
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    healthUrl = `http://127.0.0.1:${httpPort}/healthz`;
    env = {
      ...process.env,
      MONGODB_URL: mongo.url,
      TEMPORAL_ADDRESS: temporalAddress(),
      OTA_TASK_QUEUE: unique('crash'),
      OTA_MQTT_HOST: '127.0.0.1',
      OTA_MQTT_PORT: String(mqttPort),
      OTA_GATEWAY_HTTP_PORT: String(httpPort),
      OTA_GATEWAY_ID: 'gateway-under-test',
      OTA_LOG_LEVEL: 'info',
    };
  });
  afterAll(async () => {
    await gateway?.stop(5000);
    await proxy?.close();
    await mongo.close();
  });

  it('marks offline the devices it left online, leaves other gateways’ devices alone, and lets them reconnect', async () => {
    const mine = newDevice();
    const elsewhere = newDevice();
    await registerDevices(mongo.db, [mine, elsewhere]);
    // Online through another gateway sharing the registry: not this gateway's to mark offline.
    await mongo.db
      .collection('devices')
      .updateOne(
        { productKey: elsewhere.productKey, deviceKey: elsewhere.deviceKey },
        { $set: { online: true, gatewayId: 'another-gateway' } },
      );

    await startGatewayProcess();
    const client = await connectDevice(mqttUrl, mine);
    await until(async () => (await registryDoc(mongo.db, mine))?.online === true, 5000, 'online');
    expect(await registryDoc(mongo.db, mine)).toMatchObject({ gatewayId: 'gateway-under-test' });

    gateway!.child.kill('SIGKILL');
    await gateway!.whenExited();
    client.end(true);
    // Nobody said goodbye: the registry still shows the device online.
    expect((await registryDoc(mongo.db, mine))?.online).toBe(true);

    await startGatewayProcess();
    await until(async () => (await registryDoc(mongo.db, mine))?.online === false, 5000, 'offline after restart');
    expect(await registryDoc(mongo.db, mine)).toMatchObject({ online: false, gatewayId: null });
    expect(await registryDoc(mongo.db, elsewhere)).toMatchObject({ online: true, gatewayId: 'another-gateway' });

    const again = await connectDevice(mqttUrl, mine);
    await until(async () => (await registryDoc(mongo.db, mine))?.online === true, 5000, 'online again');
    await again.endAsync();
    await until(async () => (await registryDoc(mongo.db, mine))?.online === false, 5000, 'offline after goodbye');
  });

  it('answers a reported version only once it is stored: one a crash lost was never acknowledged', async () => {
    // The gateway reaches the database through a proxy the test can cut; the test reads it directly.
    const dbUrl = new URL(mongo.url);
    proxy = await startTcpProxy(dbUrl.host);
    const throughProxy = new URL(mongo.url);
    throughProxy.host = proxy.address;
    const direct = env;
    env = { ...direct, MONGODB_URL: throughProxy.toString(), OTA_GATEWAY_ID: 'gateway-behind-proxy' };
    try {
      await gateway?.stop(5000);
      const device = newDevice();
      await registerDevices(mongo.db, [device], '1.0.0');
      await startGatewayProcess();
      const client = await connectDevice(mqttUrl, device);
      const box = inbox(client);
      const sys = `/sys/${device.productKey}/${device.deviceKey}/ota/device/inform`;
      await client.subscribeAsync(`${sys}_reply`, { qos: 1 });
      await until(async () => (await registryDoc(mongo.db, device))?.online === true, 5000, 'online');

      await proxy.cut();
      await client.publishAsync(
        sys,
        JSON.stringify({ id: 'v1', method: 'ota.device.inform', params: { version: '2.0.0' } }),
        { qos: 1 },
      );
      // Not stored, so not answered: a device that gets no reply sends its report again.
      await sleep(2000);
      expect(box.filter((m) => m.topic === `${sys}_reply`)).toEqual([]);

      await proxy.restore();
      await until(() => box.some((m) => m.topic === `${sys}_reply`), 30_000, 'the reply once the database is back');
      expect(box.find((m) => m.topic === `${sys}_reply`)?.body).toMatchObject({ id: 'v1', code: 200 });
      // Answered means stored.
      expect(await registryDoc(mongo.db, device)).toMatchObject({ firmwareVersion: '2.0.0' });
      await client.endAsync();
    } finally {
      env = direct;
    }
  }, 60_000);
});
