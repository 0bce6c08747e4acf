/** The pure pieces of the limits: frame metering, token buckets, and the settings that configure them. */
import { ConfigError, DEFAULT_MQTT_LIMITS, loadConfig } from '../../config/config';
import { FrameMeter } from '../../gateway/frame-meter';
import { LoginGuard } from '../../gateway/login-guard';
import { ExpiringSet, KeyedBuckets, TokenBucket } from '../../gateway/token-bucket';
import { announce } from './raw';

describe('FrameMeter', () => {
  it('passes packets within the limit, split anywhere, and stops at the header of one beyond it', () => {
    const small = Buffer.concat([announce(0x30, 300), Buffer.alloc(300)]);
    const meter = new FrameMeter(1000);
    // Byte by byte: headers and bodies split across reads.
    for (const byte of Buffer.concat([small, small])) expect(meter.feed(Buffer.from([byte]))).toEqual({ ok: true });
    expect(meter.feed(announce(0x30, 1001))).toEqual({ ok: false, reason: 'too_large', length: 1001 });
  });

  it('refuses a remaining length longer than four bytes', () => {
    expect(new FrameMeter(1000).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toEqual({
      ok: false,
      reason: 'bad_length',
    });
  });

  it('applies a raised limit to the next packet', () => {
    const meter = new FrameMeter(10);
    expect(meter.feed(Buffer.concat([announce(0x10, 5), Buffer.alloc(5)]))).toEqual({ ok: true });
    meter.setLimit(100);
    expect(meter.feed(announce(0x30, 50))).toEqual({ ok: true });
  });
});

describe('token buckets', () => {
  it('allows the burst, then the rate', () => {
    const bucket = new TokenBucket({ perSec: 2, burst: 3 }, 0);
    expect([0, 0, 0, 0].map(() => bucket.take(0))).toEqual([true, true, true, false]);
    expect(bucket.take(499)).toBe(false);
    expect(bucket.take(500)).toBe(true);
  });

  it('keeps at most maxKeys buckets, forgetting the least recently used', () => {
    const buckets = new KeyedBuckets({ perSec: 1, burst: 1 }, 2);
    buckets.take('a', 0);
    buckets.take('b', 0);
    buckets.take('a', 0);
    buckets.take('c', 0);
    expect(buckets.size).toBe(2);
    // 'b' was forgotten, so it starts full again; 'a' is still empty.
    expect(buckets.has('b', 0)).toBe(true);
    expect(buckets.has('a', 0)).toBe(false);
  });

  it('remembers keys for their time only', () => {
    const set = new ExpiringSet(100, 10);
    set.add('x', 0);
    expect([set.has('x', 99), set.has('x', 100)]).toEqual([true, false]);
  });
});

describe('LoginGuard', () => {
  it('refuses an address out of its failure budget until it refills, and never when the budget is off', () => {
    let now = 0;
    const guard = new LoginGuard({ loginFailuresPerSec: 1, loginFailureBurst: 2, unknownDeviceCacheMs: 0 }, () => now);
    guard.failed('10.0.0.1');
    guard.failed('10.0.0.1');
    expect([guard.admits('10.0.0.1'), guard.admits('10.0.0.2')]).toEqual([false, true]);
    now = 1000;
    expect(guard.admits('10.0.0.1')).toBe(true);
    const off = new LoginGuard({ loginFailuresPerSec: 1, loginFailureBurst: 0, unknownDeviceCacheMs: 0 });
    for (let i = 0; i < 100; i += 1) off.failed('10.0.0.1');
    expect(off.admits('10.0.0.1')).toBe(true);
  });

  it('remembers unknown devices for their time, and forgets them all on a registry change', () => {
    let now = 0;
    const guard = new LoginGuard(
      { loginFailuresPerSec: 1, loginFailureBurst: 1, unknownDeviceCacheMs: 100 },
      () => now,
    );
    const d = { productKey: 'pk', deviceKey: 'dk' };
    guard.rememberUnknown(d);
    expect(guard.isKnownUnknown(d)).toBe(true);
    guard.forgetUnknown();
    expect(guard.isKnownUnknown(d)).toBe(false);
    guard.rememberUnknown(d);
    now = 100;
    expect(guard.isKnownUnknown(d)).toBe(false);
  });
});

describe('MQTT limit settings', () => {
  const base = { OTA_DATA_DIR: '/tmp/ota-config-test', OTA_SERVICE_MQTT_PASSWORD: 'p' };

  it('defaults to DEFAULT_MQTT_LIMITS, no TLS', () => {
    const config = loadConfig(base);
    expect(config.mqttLimits).toEqual(DEFAULT_MQTT_LIMITS);
    expect(config.mqttTls).toBeUndefined();
  });

  it('reads every limit and the TLS files', () => {
    const config = loadConfig({
      ...base,
      OTA_MQTT_MAX_PACKET_BYTES: '65536',
      OTA_MQTT_DEVICE_RATE: '5',
      OTA_MQTT_TLS_CERT: '/etc/ota/cert.pem',
      OTA_MQTT_TLS_KEY: '/etc/ota/key.pem',
      OTA_MQTT_TLS_CLIENT_CA: '/etc/ota/ca.pem',
      OTA_MQTT_TLS_CLIENT_CERT: 'required',
    });
    expect(config.mqttLimits).toMatchObject({ maxPacketBytes: 65536, deviceRatePerSec: 5 });
    expect(config.mqttTls).toEqual({
      certFile: '/etc/ota/cert.pem',
      keyFile: '/etc/ota/key.pem',
      port: 8883,
      host: '0.0.0.0',
      clientCaFile: '/etc/ota/ca.pem',
      clientCertificates: 'required',
    });
  });

  it.each([
    [{ OTA_MQTT_MAX_PACKET_BYTES: '12' }],
    [{ OTA_MQTT_DEVICE_RATE: 'fast' }],
    [{ OTA_MQTT_MAX_CONNECT_BYTES: '65536', OTA_MQTT_MAX_PACKET_BYTES: '4096' }],
    [{ OTA_MQTT_TLS_CERT: '/c.pem' }],
    [{ OTA_MQTT_TLS_CERT: '/c.pem', OTA_MQTT_TLS_KEY: '/k.pem', OTA_MQTT_TLS_CLIENT_CERT: 'required' }],
    [{ OTA_MQTT_TLS_CERT: '/c.pem', OTA_MQTT_TLS_KEY: '/k.pem', OTA_MQTT_TLS_CLIENT_CERT: 'maybe' }],
  ])('refuses %j', (env) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
  });
});
