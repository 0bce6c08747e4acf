/**
 * Java 2.x sessions that log in with `compress=GZIP`: every payload both ways
 * is gzip, over real MQTT against the in-process gateway.
 */
import type { MqttClient } from 'mqtt';
import { crc32, deflateRawSync, gunzipSync, gzipSync } from 'node:zlib';
import type { FirmwareOffer } from '../../domain/types';
import {
  connectDevice,
  connectService,
  inbox,
  newDevice,
  registerDevices,
  registryDoc,
  startTestGateway,
  until,
  type TestDevice,
  type TestGateway,
} from './support';

const offer: FirmwareOffer = { version: '2.0.0', signMethod: 'md5', sign: 'abc123', fileUrl: '/fw/2', fileSize: 64 };

const javaClientId = (d: TestDevice, compress: string) =>
  `${d.deviceKey}{ip=1.2.3.4,version=enos-mqtt-2.2.16,compress=${compress}}`;

const isGzip = (raw: Buffer) => raw.length > 2 && raw[0] === 0x1f && raw[1] === 0x8b;
const gunzipJson = (raw: Buffer): Record<string, unknown> => JSON.parse(gunzipSync(raw).toString('utf8'));
const gzipJson = (body: unknown) => gzipSync(Buffer.from(JSON.stringify(body), 'utf8'));

/** A gzip member as java.util.zip.GZIPOutputStream writes it: fixed 10-byte header, deflate, CRC-32, size. */
function javaGzip(body: unknown): Buffer {
  const data = Buffer.from(JSON.stringify(body), 'utf8');
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length, 4);
  const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  return Buffer.concat([header, deflateRawSync(data), trailer]);
}

describe('gateway with GZIP-compressed Java 2.x sessions', () => {
  let t: TestGateway;
  const g = newDevice();
  const plain = newDevice();
  let devG: MqttClient;
  let inG: ReturnType<typeof inbox>;
  let service: MqttClient;

  beforeAll(async () => {
    t = await startTestGateway('compression', { getversionTimeoutMs: 500 });
    await registerDevices(t.db, [g, plain], '1.0.0');
    devG = await connectDevice(t.url, g, { signClientId: javaClientId(g, 'GZIP') });
    inG = inbox(devG);
    service = await connectService(t.url);
  });
  afterAll(async () => {
    await Promise.all([devG.endAsync(), service.endAsync()]);
    await t.close();
  });

  const topic = (suffix: string, d = g) => `/sys/${d.productKey}/${d.deviceKey}/ota/device/${suffix}`;
  const replies = (suffix: string) => inG.filter((m) => m.topic === `${topic(suffix)}_reply`);

  /** Publishes a compressed request and returns the raw reply with that id, which must itself be gzip. */
  const request = async (suffix: string, payload: Buffer, id: string) => {
    await devG.publishAsync(topic(suffix), payload, { qos: 1 });
    const match = () => replies(suffix).find((m) => isGzip(m.raw) && gunzipJson(m.raw).id === id);
    await until(() => match() !== undefined, 3000, `${suffix} reply ${id}`);
    return match()!.raw;
  };

  it('answers a gzipped inform with a gzipped reply and stores the version', async () => {
    const raw = await request(
      'inform',
      gzipJson({ id: '1', version: '1.1', method: 'ota.device.inform', params: { version: '1.2.0' } }),
      '1',
    );
    expect(isGzip(raw)).toBe(true);
    expect(gunzipJson(raw)).toEqual({ id: '1', code: 200, data: {}, message: '' });
    await until(async () => (await registryDoc(t.db, g))?.firmwareVersion === '1.2.0', 3000, 'stored version');
    await t.events.waitFor(() => t.events.of('versionReported', g).some((c) => c.version === '1.2.0'));
  });

  it('answers gzipped progress and getversion in gzip and passes them on like any device', async () => {
    const progress = await request(
      'progress',
      gzipJson({ id: '2', method: 'ota.device.progress', params: { step: '35', desc: 'downloading' } }),
      '2',
    );
    expect(gunzipJson(progress)).toEqual({ id: '2', code: 200, data: {}, message: '' });
    await t.events.waitFor(() => t.events.of('progressReported', g).some((c) => c.step === 35));

    t.events.offer([offer], g);
    const versions = await request('getversion', gzipJson({ id: '3', method: 'ota.device.getversion' }), '3');
    expect(gunzipJson(versions)).toEqual({ id: '3', code: 200, data: [offer], message: '' });
  });

  it('reads gzip as java.util.zip writes it, and sends no reply to an upgrade_reply', async () => {
    const raw = await request(
      'inform',
      javaGzip({ id: '4', method: 'ota.device.inform', params: { version: '1.3.0' } }),
      '4',
    );
    expect(gunzipJson(raw)).toMatchObject({ id: '4', code: 200 });

    const before = inG.length;
    await devG.publishAsync(topic('upgrade_reply'), javaGzip({ id: 'cmd-7', code: 200, message: 'ok' }), { qos: 0 });
    await t.events.waitFor(() => t.events.of('upgradeReplied', g).some((c) => c.commandId === 'cmd-7'));
    // A later request on the same connection: its reply is the only message since the upgrade_reply.
    await request('inform', javaGzip({ id: 'probe-7', method: 'probe.round.trip', params: {} }), 'probe-7');
    expect(inG.slice(before).map((m) => gunzipJson(m.raw).id)).toEqual(['probe-7']);
  });

  it('delivers a service command gzipped to the GZIP session and as plain JSON to a raw session', async () => {
    const devP = await connectDevice(t.url, plain);
    const inP = inbox(devP);
    const command = (d: TestDevice, id: string) => ({
      id,
      version: '1.0',
      method: 'ota.device.upgrade',
      params: { ...offer, deviceKey: d.deviceKey },
    });
    // The worker's service client publishes plain JSON; only the gateway knows which session compresses.
    await service.publishAsync(topic('upgrade'), JSON.stringify(command(g, 'c1')), { qos: 1 });
    await service.publishAsync(topic('upgrade', plain), JSON.stringify(command(plain, 'c2')), { qos: 1 });
    await until(() => inG.some((m) => m.topic === topic('upgrade')), 3000, 'gzipped command');
    await until(() => inP.some((m) => m.topic === topic('upgrade', plain)), 3000, 'plain command');
    // Later commands on the same service connection: once they are in, a duplicate of the first would be too.
    await service.publishAsync(topic('upgrade'), JSON.stringify(command(g, 'c3')), { qos: 1 });
    await service.publishAsync(topic('upgrade', plain), JSON.stringify(command(plain, 'c4')), { qos: 1 });
    await until(() => inG.some((m) => gunzipJson(m.raw).id === 'c3'), 3000, 'the later gzipped command');
    await until(() => inP.some((m) => (m.body as { id?: unknown }).id === 'c4'), 3000, 'the later plain command');

    const got = inG.filter((m) => m.topic === topic('upgrade') && gunzipJson(m.raw).id === 'c1');
    expect(got).toHaveLength(1);
    expect(got[0].qos).toBe(1);
    expect(isGzip(got[0].raw)).toBe(true);
    expect(gunzipJson(got[0].raw)).toEqual(command(g, 'c1'));
    expect(inP.map((m) => m.body)).toEqual([command(plain, 'c2'), command(plain, 'c4')]);
    await devP.endAsync();
  });

  it('rejects a payload that is not gzip or inflates past 512 KB without effect, and keeps serving', async () => {
    const malformed = t.gateway.metrics.malformedPayloads;
    const versionBefore = (await registryDoc(t.db, g))?.firmwareVersion;
    const bad: { name: string; suffix: string; payload: Buffer; code: number }[] = [
      {
        name: 'plain JSON',
        suffix: 'inform',
        payload: Buffer.from(JSON.stringify({ id: '66', method: 'ota.device.inform', params: { version: '6.6.6' } })),
        code: 1220,
      },
      { name: 'binary', suffix: 'progress', payload: Buffer.from([0x00, 0xff, 0xfe, 0x81, 0x02]), code: 1220 },
      {
        name: 'truncated gzip',
        suffix: 'inform',
        payload: gzipJson({ id: '67', method: 'ota.device.inform', params: { version: '6.6.7' } }).subarray(0, 20),
        code: 1220,
      },
      { name: 'a gzip bomb', suffix: 'inform', payload: gzipSync(Buffer.alloc(600 * 1024, 0x20)), code: 1008 },
    ];
    for (const c of bad) {
      const before = replies(c.suffix).length;
      await devG.publishAsync(topic(c.suffix), c.payload, { qos: 1 });
      await until(() => replies(c.suffix).length > before, 3000, `error reply to ${c.name}`);
      const reply = replies(c.suffix)[before];
      expect({ name: c.name, gzip: isGzip(reply.raw), body: gunzipJson(reply.raw) }).toEqual({
        name: c.name,
        gzip: true,
        body: { id: '', code: c.code, data: {}, message: expect.any(String) },
      });
    }
    // A reply to a command gets no answer back, only the count.
    await devG.publishAsync(topic('upgrade_reply'), '{"id":"c1","code":200}', { qos: 1 });
    await until(
      () => t.gateway.metrics.malformedPayloads === malformed + bad.length + 1,
      3000,
      'malformed payloads counted',
    );

    expect((await registryDoc(t.db, g))?.firmwareVersion).toBe(versionBefore);
    expect(t.events.of('versionReported', g).map((c) => c.version)).not.toContain('6.6.6');
    expect(t.events.of('upgradeReplied', g).map((c) => c.commandId)).not.toContain('c1');
    expect(devG.connected).toBe(true);
    const raw = await request(
      'inform',
      gzipJson({ id: '5', method: 'ota.device.inform', params: { version: '1.4.0' } }),
      '5',
    );
    expect(gunzipJson(raw)).toMatchObject({ id: '5', code: 200 });
  });

  it('accepts gzip in any case, and refuses LZ4, LZO and unknown compressions at login naming the type', async () => {
    const lower = newDevice();
    await registerDevices(t.db, [lower]);
    const client = await connectDevice(t.url, lower, { signClientId: javaClientId(lower, 'gzip') });
    await client.endAsync();

    for (const compress of ['LZ4', 'lzo', 'ZSTD']) {
      await expect(connectDevice(t.url, g, { signClientId: javaClientId(g, compress) })).rejects.toMatchObject({
        code: 5,
      });
    }
    const metrics = (await (await fetch(`${t.gateway.httpUrl}/metrics.json`)).json()) as {
      connections: { refused: Record<string, number> };
    };
    expect(metrics.connections.refused).toMatchObject({
      'unsupported compression LZ4': 1,
      'unsupported compression LZO': 1,
      'unknown compression': 1,
    });
    // The refused logins did not displace the live GZIP session.
    expect(devG.connected).toBe(true);
  });
});
