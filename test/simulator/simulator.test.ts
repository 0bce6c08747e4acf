/**
 * The simulator's behaviours against the real gateway, with the test playing
 * the orchestration: it pushes commands as the service identity and watches
 * what reaches the (recording) orchestration.
 */
import type { MqttClient } from 'mqtt';
import type { FirmwareOffer } from '../../domain/types';
import type { DeviceRef } from '../../orchestration/device-events';
import { Fleet, type DeviceSpec } from '../../simulator';
import {
  connectService,
  registerDevices,
  registryDoc,
  sleep,
  startTestGateway,
  type TestGateway,
} from '../gateway/support';

const PK = 'simpk';
const target: FirmwareOffer = { version: '2.0.0', signMethod: 'md5', sign: 'abc123', fileUrl: '/fw/2', fileSize: 2048 };
const spec = (deviceKey: string, extra: Partial<DeviceSpec> = {}): DeviceSpec => ({
  productKey: PK,
  deviceKey,
  deviceSecret: `secret-${deviceKey}`,
  version: '1.0.0',
  ...extra,
});

describe('device simulator against the gateway', () => {
  let t: TestGateway;
  let service: MqttClient;
  let fleet: Fleet;
  let fleetStartedAt: number;
  const fast = 30;
  const lateForMs = 1500;
  const specs: DeviceSpec[] = [
    spec('ok', { behaviour: { kind: 'succeed', stepDelayMs: fast } }),
    spec('java1', { behaviour: { kind: 'succeed', stepDelayMs: fast }, signMethod: 'hmacsha1', upperCaseSign: true }),
    spec('md5', { signMethod: 'md5', behaviour: { kind: 'succeed', stepDelayMs: fast } }),
    spec('fail', { behaviour: { kind: 'fail', code: -3, stepsBefore: [20, 40], stepDelayMs: fast } }),
    spec('decline', { behaviour: { kind: 'decline' } }),
    spec('silent', { behaviour: { kind: 'silent' } }),
    spec('slow', { behaviour: { kind: 'slow', downloadMs: 600, stepDelayMs: fast } }),
    spec('drop-new', { behaviour: { kind: 'drop', reconnectAfterMs: 300, comeBackOn: 'new', stepDelayMs: fast } }),
    spec('drop-old', { behaviour: { kind: 'drop', reconnectAfterMs: 300, comeBackOn: 'old', stepDelayMs: fast } }),
    spec('request', { behaviour: { kind: 'request', stepDelayMs: fast } }),
    spec('request-none', { behaviour: { kind: 'request', stepDelayMs: fast } }),
    spec('late', { behaviour: { kind: 'offline', forMs: lateForMs, then: { kind: 'succeed', stepDelayMs: fast } } }),
  ];
  const ref = (deviceKey: string): DeviceRef => ({ productKey: PK, deviceKey });
  const push = (deviceKey: string, id: string) =>
    service.publishAsync(
      `/sys/${PK}/${deviceKey}/ota/device/upgrade`,
      JSON.stringify({ id, version: '1.0', method: 'ota.device.upgrade', params: target }),
      { qos: 1 },
    );
  const steps = (deviceKey: string) => t.events.of('progressReported', ref(deviceKey)).map((c) => c.step);
  const versions = (deviceKey: string) => t.events.of('versionReported', ref(deviceKey)).map((c) => c.version);

  beforeAll(async () => {
    t = await startTestGateway('simulator');
    await registerDevices(t.db, specs, '1.0.0');
    t.events.offer([{ ...target, version: '1.5.0' }, target], ref('request'));
    service = await connectService(t.url);
    fleet = new Fleet({ url: t.url, maxConcurrentConnects: 4, requestTimeoutMs: 5000 }, specs);
    fleetStartedAt = Date.now();
    expect(await fleet.connect()).toBe(specs.length - 1);
    await t.events.waitFor(() => t.events.of('versionReported').length >= specs.length - 1, 5000, 'first informs');
  });
  afterAll(async () => {
    await fleet.close();
    await service.endAsync();
    await t.close();
  });

  it('logs every device in with the SDK signatures and informs the current version on connect', () => {
    // The offline device stays away for its whole period, however slowly the others logged in.
    for (const c of fleet.device('late').record.connections)
      expect(c.at).toBeGreaterThanOrEqual(fleetStartedAt + lateForMs);
    for (const s of specs.filter((x) => x.behaviour?.kind !== 'offline')) {
      expect(versions(s.deviceKey)[0]).toBe('1.0.0');
      // Request ids are decimal strings from a per-connection counter; replies echo them.
      expect(fleet.device(s.deviceKey).record.replies[0]).toMatchObject({ id: '1', code: 200 });
    }
  });

  it('runs the push behaviours to their ends', async () => {
    for (const key of ['ok', 'java1', 'md5', 'fail', 'decline', 'silent', 'slow', 'drop-new', 'drop-old'])
      await push(key, `cmd-${key}`);
    await fleet.waitForEach((r) => !['none', 'upgrading'].includes(r.outcome), 10_000, [
      'ok',
      'java1',
      'md5',
      'fail',
      'decline',
      'silent',
      'slow',
      'drop-new',
      'drop-old',
    ]);
    await fleet.waitFor(() => versions('drop-new').length === 2 && versions('drop-old').length === 2, 5000);
    await t.events.waitFor(() => versions('slow').includes('2.0.0') && versions('ok').includes('2.0.0'), 5000);

    expect(fleet.device('ok').record.commands).toEqual([expect.objectContaining({ id: 'cmd-ok', version: '2.0.0' })]);
    for (const key of ['ok', 'java1', 'md5', 'slow']) {
      expect(steps(key)).toEqual([20, 50, 80, 100]);
      expect(versions(key)).toEqual(['1.0.0', '2.0.0']);
      expect(fleet.device(key).record).toMatchObject({ outcome: 'succeeded', version: '2.0.0' });
    }
    expect(steps('fail')).toEqual([20, 40, -3]);
    expect(steps('decline')).toEqual([-5]);
    expect(steps('silent')).toEqual([]);
    expect(fleet.device('silent').record.commands).toHaveLength(1);
    expect(steps('drop-new')).toEqual([20]);
    expect(versions('drop-new')).toEqual(['1.0.0', '2.0.0']);
    expect(versions('drop-old')).toEqual(['1.0.0', '1.0.0']);
    expect(t.events.of('disconnected', ref('drop-new'))).toHaveLength(1);
    expect(t.events.of('connected', ref('drop-new'))).toHaveLength(2);
    expect((await registryDoc(t.db, ref('drop-new')))?.firmwareVersion).toBe('2.0.0');
    // Neither SDK sample sends upgrade_reply.
    expect(t.events.of('upgradeReplied')).toEqual([]);
  });

  it('request mode takes the last offer, reports 20 and 80, and informs it; no offer means no upgrade', async () => {
    await fleet.waitFor((rs) => rs.find((r) => r.deviceKey === 'request')?.outcome === 'succeeded', 5000);
    expect(t.events.of('firmwareRequested', ref('request'))).toHaveLength(1);
    expect(steps('request')).toEqual([20, 80]);
    expect(versions('request')).toEqual(['1.0.0', '2.0.0']);
    expect(fleet.device('request-none').record.outcome).toBe('no-offer');
    expect(steps('request-none')).toEqual([]);
  });

  it('an offline device connects after its period and then upgrades like the others', async () => {
    await fleet.waitFor((rs) => rs.find((r) => r.deviceKey === 'late')?.online === true, 5000);
    await t.events.waitFor(() => versions('late').length === 1, 3000);
    await push('late', 'cmd-late');
    await fleet.waitFor((rs) => rs.find((r) => r.deviceKey === 'late')?.outcome === 'succeeded', 5000);
    expect(steps('late')).toEqual([20, 50, 80, 100]);
  });

  it('summarises what the fleet saw and did', async () => {
    await sleep(100);
    const summary = fleet.summary();
    expect(summary).toMatchObject({ devices: specs.length, refusedLogins: 0, requestTimeouts: 0 });
    expect(summary.versions['2.0.0']).toBe(7);
    expect(summary.outcomes).toMatchObject({
      succeeded: 6,
      failed: 1,
      declined: 1,
      silent: 1,
      dropped: 2,
      'no-offer': 1,
    });
  });
});

describe('an auto-reconnecting device (as the SDKs reconnect)', () => {
  let t: TestGateway;
  let service: MqttClient;
  let fleet: Fleet;
  const ref: DeviceRef = { productKey: PK, deviceKey: 'auto' };

  beforeAll(async () => {
    t = await startTestGateway('simulator-reconnect');
    const auto = spec('auto', { behaviour: { kind: 'succeed', stepDelayMs: 300 } });
    await registerDevices(t.db, [auto], '1.0.0');
    service = await connectService(t.url);
    fleet = new Fleet({ url: t.url, requestTimeoutMs: 5000, autoReconnect: { minDelayMs: 200, maxDelayMs: 1000 } }, [
      auto,
    ]);
    expect(await fleet.connect()).toBe(1);
  });
  afterAll(async () => {
    await fleet.close();
    await service.endAsync();
    await t.close();
  });

  it('comes back by itself after losing its link mid-upgrade and finishes the upgrade without informing again', async () => {
    const device = fleet.device('auto');
    await service.publishAsync(
      `/sys/${PK}/auto/ota/device/upgrade`,
      JSON.stringify({ id: 'cmd-auto', version: '1.0', method: 'ota.device.upgrade', params: target }),
      { qos: 1 },
    );
    await t.events.waitFor(() => t.events.of('progressReported', ref).length >= 1, 5000, 'the first step');
    device.loseConnection();
    await fleet.waitFor(() => device.record.outcome === 'succeeded', 15_000);

    expect(device.record.connections.filter((c) => c.event === 'connected')).toHaveLength(2);
    expect(t.events.of('connected', ref)).toHaveLength(2);
    // A report cut off with the link is sent again: each step arrives, some maybe twice, in order.
    const steps = t.events.of('progressReported', ref).map((c) => c.step);
    expect([...new Set(steps)]).toEqual([20, 50, 80, 100]);
    // Like the Java OTA sample: the version is informed at start and after the upgrade, not on a reconnect.
    expect(t.events.of('versionReported', ref).map((c) => c.version)).toEqual(['1.0.0', '2.0.0']);
    expect(device.record.version).toBe('2.0.0');
  });
});
