/**
 * MQTT over TLS with certificates made at test time: devices log in over it
 * as over TCP, and a device certificate (CN or SAN `{pk}/{dk}`) admits only the
 * device it names.
 */
import { deviceCredentials } from '../../gateway/auth';
import { makeTestPki, type Pem, type TestPki } from './certificates';
import {
  connectRaw,
  inbox,
  newDevice,
  registerDevices,
  startTestGateway,
  until,
  type TestDevice,
  type TestGateway,
} from './support';

const connectTls = (t: TestGateway, pki: TestPki, d: TestDevice, cert?: Pem) =>
  connectRaw(`mqtts://127.0.0.1:${t.gateway.mqttTlsPort}`, {
    ...deviceCredentials({ ...d, timestamp: '1716900000000' }),
    ca: pki.ca,
    rejectUnauthorized: true,
    ...(cert && { cert: cert.cert, key: cert.key }),
  });

const name = (d: TestDevice) => `${d.productKey}/${d.deviceKey}`;

describe('MQTT over TLS, client certificates optional', () => {
  let pki: TestPki;
  let t: TestGateway;
  const [plain, certified, victim] = [newDevice(), newDevice(), newDevice()];

  beforeAll(async () => {
    pki = makeTestPki();
    t = await startTestGateway('tls-optional', {
      tls: {
        certFile: pki.server.certFile,
        keyFile: pki.server.keyFile,
        port: 0,
        host: '127.0.0.1',
        clientCaFile: pki.caFile,
        clientCertificates: 'optional',
      },
    });
    await registerDevices(t.db, [plain, certified, victim], '1.0.0');
  });
  afterAll(async () => {
    await t.close();
    pki.remove();
  });

  it('serves a device over TLS as over TCP', async () => {
    const client = await connectTls(t, pki, plain);
    const box = inbox(client);
    const topic = `/sys/${plain.productKey}/${plain.deviceKey}/ota/device/inform`;
    await client.publishAsync(
      topic,
      JSON.stringify({ id: '1', method: 'ota.device.inform', params: { version: '2' } }),
    );
    await until(() => box.length === 1, 5000, 'the reply');
    expect(box[0]).toMatchObject({ topic: `${topic}_reply`, body: { id: '1', code: 200 } });
    await client.endAsync();
  });

  it('admits a device whose certificate names it (CN or SAN)', async () => {
    const byCn = await connectTls(t, pki, certified, pki.client(name(certified)));
    await byCn.endAsync();
    const bySan = await connectTls(t, pki, certified, pki.client('a device', { san: `URI:${name(certified)}` }));
    await bySan.endAsync();
  });

  it('refuses a device certificate used to log in as another device, and one from another CA', async () => {
    await expect(connectTls(t, pki, victim, pki.client(name(certified)))).rejects.toMatchObject({ code: 5 });
    await expect(connectTls(t, pki, victim, pki.client(name(victim), { untrusted: true }))).rejects.toMatchObject({
      code: 5,
    });
    expect(t.gateway.metrics.connections.refused).toMatchObject({
      'client certificate names another device': 1,
      'client certificate not trusted': 1,
    });
  });
});

describe('MQTT over TLS, client certificates required', () => {
  let pki: TestPki;
  let t: TestGateway;
  const d = newDevice();

  beforeAll(async () => {
    pki = makeTestPki();
    t = await startTestGateway('tls-required', {
      tls: {
        certFile: pki.server.certFile,
        keyFile: pki.server.keyFile,
        port: 0,
        host: '127.0.0.1',
        clientCaFile: pki.caFile,
        clientCertificates: 'required',
      },
    });
    await registerDevices(t.db, [d], '1.0.0');
  });
  afterAll(async () => {
    await t.close();
    pki.remove();
  });

  it('refuses a device without a certificate and admits it with its own', async () => {
    await expect(connectTls(t, pki, d)).rejects.toMatchObject({ code: 5 });
    const client = await connectTls(t, pki, d, pki.client(name(d)));
    await client.endAsync();
  });
});
