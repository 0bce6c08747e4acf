/** A battery of malformed payloads: error replies or silence, counts, no crash, no changed record. */
import {
  connectDevice,
  inbox,
  roundTrip,
  newDevice,
  registerDevices,
  registryDoc,
  startTestGateway,
  until,
  type TestGateway,
} from './support';

describe('gateway under malformed payloads', () => {
  let t: TestGateway;
  const d = newDevice();

  beforeAll(async () => {
    t = await startTestGateway('malformed');
    await registerDevices(t.db, [d], '1.0.0');
  });
  afterAll(() => t.close());

  const topic = (suffix: string) => `/sys/${d.productKey}/${d.deviceKey}/ota/device/${suffix}`;

  const cases: { name: string; suffix: string; payload: Buffer | string; code: number; id: string; data?: unknown }[] =
    [
      { name: 'not JSON', suffix: 'inform', payload: '{"id":"1",', code: 1220, id: '' },
      { name: 'empty', suffix: 'inform', payload: '', code: 1251, id: '' },
      { name: 'an array', suffix: 'inform', payload: '[{"id":"1"}]', code: 460, id: '' },
      { name: 'binary', suffix: 'progress', payload: Buffer.from([0x00, 0xff, 0xfe, 0x81, 0x02]), code: 1220, id: '' },
      {
        name: 'a version object',
        suffix: 'inform',
        payload: JSON.stringify({ id: '2', method: 'ota.device.inform', params: { version: { $set: 1 } } }),
        code: 460,
        id: '2',
      },
      {
        name: 'a step that is no integer',
        suffix: 'progress',
        payload: JSON.stringify({ id: '3', method: 'ota.device.progress', params: { step: 'fifty' } }),
        code: 460,
        id: '3',
      },
      {
        name: 'params as a string',
        suffix: 'progress',
        payload: JSON.stringify({ id: '4', method: 'ota.device.progress', params: 'x' }),
        code: 460,
        id: '4',
      },
      {
        name: 'an unknown method',
        suffix: 'inform',
        payload: JSON.stringify({ id: '5', method: 'thing.property.post', params: { version: '6' } }),
        code: 1260,
        id: '5',
      },
      {
        name: 'the method of another topic',
        suffix: 'progress',
        payload: JSON.stringify({ id: '6', method: 'ota.device.inform', params: { step: '1' } }),
        code: 1260,
        id: '6',
      },
      {
        name: 'a wrong method on getversion (data stays an array)',
        suffix: 'getversion',
        payload: JSON.stringify({ id: '7', method: 'ota.device.inform' }),
        code: 1260,
        id: '7',
        data: [],
      },
      { name: 'huge (512 KB)', suffix: 'inform', payload: Buffer.alloc(512 * 1024, 0x20), code: 1008, id: '' },
    ];

  it('answers every malformed request with an EnOS error code, keeps serving and changes no record', async () => {
    const client = await connectDevice(t.url, d);
    const box = inbox(client);
    for (const c of cases) {
      const before = box.length;
      await client.publishAsync(topic(c.suffix), c.payload, { qos: 1 });
      await until(() => box.length > before, 3000, `reply to ${c.name}`);
      const reply = box[before];
      expect({ name: c.name, topic: reply.topic, body: reply.body }).toEqual({
        name: c.name,
        topic: `${topic(c.suffix)}_reply`,
        body: { id: c.id, code: c.code, data: c.data ?? {}, message: expect.any(String) },
      });
    }
    // Malformed replies to commands get no answer (a reply to a reply would loop), just a count.
    await client.publishAsync(topic('upgrade_reply'), '{"id":"9","code":"not a number"}', { qos: 1 });
    await client.publishAsync(topic('upgrade_reply'), 'garbage', { qos: 1 });
    await until(() => t.gateway.metrics.malformedPayloads === cases.length + 2, 3000, 'malformed counted');
    const probe = await roundTrip(client, d, box);
    expect(box.slice(cases.length).map((m) => (m.body as { id?: unknown }).id)).toEqual([probe]);

    const doc = await registryDoc(t.db, d);
    expect(doc?.firmwareVersion).toBe('1.0.0');
    expect(t.events.calls.filter((c) => c.type !== 'connected')).toEqual([]);

    // Still serving, on the same connection and to a new one.
    expect(client.connected).toBe(true);
    await client.publishAsync(
      topic('inform'),
      JSON.stringify({ id: '10', method: 'ota.device.inform', params: { version: '1.0.1' } }),
      { qos: 1 },
    );
    await until(() => box.some((m) => (m.body as { id?: string })?.id === '10'), 3000, 'good reply');
    await client.endAsync();
    const again = await connectDevice(t.url, d);
    await again.endAsync();
    const res = await fetch(`${t.gateway.httpUrl}/metrics.json`);
    expect(await res.json()).toMatchObject({ malformedPayloads: cases.length + 3 });
  });
});
