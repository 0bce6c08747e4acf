import { devicePublish, deviceSubscribe, servicePublish } from '../../gateway/acl';
import { CODE, MAX_PAYLOAD_BYTES, parseUpstream } from '../../gateway/ota-messages';

const me = { productKey: 'pk', deviceKey: 'dk' };
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('topic ACL', () => {
  it('lets a device publish only to its own upstream topics', () => {
    expect(devicePublish(me, '/sys/pk/dk/ota/device/inform')).toEqual({ allow: true, route: 'ota', kind: 'inform' });
    expect(devicePublish(me, '/sys/pk/dk/thing/measurepoint/post')).toEqual({ allow: true, route: 'ignore' });
    expect(devicePublish(me, '/sys/pk/other/ota/device/inform').allow).toBe(false);
    expect(devicePublish(me, '/sys/pk2/dk/ota/device/inform').allow).toBe(false);
    expect(devicePublish(me, '/sys/pk/dk/ota/device/upgrade').allow).toBe(false);
    expect(devicePublish(me, '/sys/pk/dk/ota/device/inform_reply').allow).toBe(false);
    expect(devicePublish(me, '/sys/pk/dk/ota/device/upgrade_reply')).toEqual({
      allow: true,
      route: 'ota',
      kind: 'upgrade_reply',
    });
    expect(devicePublish(me, 'elsewhere').allow).toBe(false);
  });

  it('confines subscriptions, wildcards included, to the device prefix', () => {
    expect(deviceSubscribe(me, '/sys/pk/dk/ota/device/inform_reply')).toBe(true);
    expect(deviceSubscribe(me, '/sys/pk/dk/#')).toBe(true);
    expect(deviceSubscribe(me, '/sys/pk/dk/+/device/+')).toBe(true);
    for (const t of [
      '#',
      '/sys/#',
      '/sys/pk/#',
      '/sys/pk/+/ota/device/upgrade',
      '/sys/+/dk/#',
      '/sys/pk/other/#',
      '/sys/pk/dk/',
      '/sys/pk/dkX/#',
    ]) {
      expect(deviceSubscribe(me, t)).toBe(false);
    }
  });

  it('lets the service identity publish only commands', () => {
    expect(servicePublish('/sys/pk/dk/ota/device/upgrade')).toEqual({ allow: true, device: me });
    expect(servicePublish('/sys/pk/dk/ota/device/inform').allow).toBe(false);
    expect(servicePublish('anything').allow).toBe(false);
  });
});

describe('OTA payload parsing', () => {
  it('accepts method aliases in any case and numbers where strings are documented', () => {
    expect(parseUpstream('inform', json({ id: '5', method: 'OTA.Inform', params: { version: 1.0 } }))).toEqual({
      ok: true,
      kind: 'inform',
      id: '5',
      version: '1',
    });
    expect(parseUpstream('progress', json({ id: 6, method: 'ota.device.progress', params: { step: '-2' } }))).toEqual({
      ok: true,
      kind: 'progress',
      id: '6',
      step: -2,
      desc: '',
    });
    expect(parseUpstream('getversion', json({ id: '7', method: 'Ota.device.getversion', params: {} }))).toMatchObject({
      ok: true,
    });
    expect(parseUpstream('request', json({ id: '7', method: 'ota.request' }))).toMatchObject({ ok: true });
    expect(parseUpstream('upgrade_reply', json({ id: '8', code: '1101', message: 'no handler' }))).toEqual({
      ok: true,
      kind: 'upgrade_reply',
      id: '8',
      code: 1101,
      message: 'no handler',
    });
  });

  it('answers each kind of malformed payload with its EnOS code', () => {
    const code = (kind: Parameters<typeof parseUpstream>[0], payload: Buffer) => {
      const r = parseUpstream(kind, payload);
      return r.ok ? 200 : r.code;
    };
    expect(code('inform', Buffer.alloc(0))).toBe(CODE.emptyPayload);
    expect(code('inform', Buffer.from('{not json'))).toBe(CODE.notJson);
    expect(code('inform', Buffer.from([0xff, 0xfe, 0x00, 0x81]))).toBe(CODE.notJson);
    expect(code('inform', Buffer.alloc(MAX_PAYLOAD_BYTES, 0x20))).toBe(CODE.tooLarge);
    expect(code('inform', json([1, 2]))).toBe(CODE.parameterError);
    expect(code('inform', json({ id: '1', method: 'ota.device.progress', params: { version: '1' } }))).toBe(
      CODE.methodNotConsistent,
    );
    expect(code('inform', json({ id: '1', method: 'ota.device.inform', params: { version: { x: 1 } } }))).toBe(
      CODE.parameterError,
    );
    expect(code('inform', json({ id: '1', method: 'ota.device.inform', params: { version: '' } }))).toBe(
      CODE.parameterError,
    );
    expect(code('progress', json({ id: '1', method: 'ota.device.progress', params: { step: '2.5' } }))).toBe(
      CODE.parameterError,
    );
    expect(code('progress', json({ id: '1', method: 'ota.device.progress', params: { step: '101' } }))).toBe(
      CODE.parameterError,
    );
    expect(code('progress', json({ id: '1', method: 'ota.device.progress', params: { step: 5, desc: 7 } }))).toBe(
      CODE.parameterError,
    );
    expect(code('progress', json({ id: { x: 1 }, method: 'ota.device.progress', params: { step: 5 } }))).toBe(
      CODE.parameterError,
    );
    expect(code('upgrade_reply', json({ id: '8', code: 'abc' }))).toBe(CODE.parameterError);
  });

  it('keeps the request id in an error so the device can correlate it', () => {
    expect(parseUpstream('inform', json({ id: '42', method: 'nope', params: {} }))).toMatchObject({
      ok: false,
      id: '42',
    });
  });
});
