/**
 * Two devices whose keys, joined with "-", read the same: (`idp-a`, `z`) and
 * (`idp`, `a-z`). On the real stack, each verifies its product's firmware
 * while the other is mid-upgrade: both must upgrade, each on its own workflow.
 */
import { Fleet } from '../../simulator';
import type { DeviceSpec } from '../../simulator';
import { eventually } from '../helpers/eventually';
import { startServiceStack, type ServiceStack } from '../helpers/service-stack';

let stack: ServiceStack;
let fleet: Fleet;

const slow: DeviceSpec = {
  productKey: 'idp-a',
  deviceKey: 'z',
  deviceSecret: 'secret-idp-a-z',
  version: '1.0.0',
  // Long enough that the second device asks while this one is still upgrading.
  behaviour: { kind: 'succeed', stepDelayMs: 1500 },
};
const quick: DeviceSpec = {
  productKey: 'idp',
  deviceKey: 'a-z',
  deviceSecret: 'secret-idp-a-z-2',
  version: '1.0.0',
  behaviour: { kind: 'succeed', stepDelayMs: 20 },
};

async function firmwareFor(productKey: string): Promise<string> {
  const fw = await stack.api<{ firmwareId: string }>('POST', '/v1/firmwares', {
    productKey,
    version: '2.0.0',
    fileUrl: `/files/${productKey}-2.0.0`,
    fileSize: 4096,
    signMethod: 'md5',
    sign: '9E107D9D372BB6826BD81D3542A419D6',
  });
  expect(fw.status).toBe(201);
  return fw.body.firmwareId;
}

async function verify(firmwareId: string, deviceKey: string): Promise<string> {
  const res = await stack.api<{ verificationId: string }>('POST', `/v1/firmwares/${firmwareId}/verification`, {
    deviceKeys: [deviceKey],
  });
  expect(res.status).toBe(202);
  return res.body.verificationId;
}

const recordStatus = async (taskId: string, deviceKey: string) =>
  (await stack.api<{ status: string }>('GET', `/v1/upgrade-tasks/${taskId}/devices/${deviceKey}`)).body.status;

beforeAll(async () => {
  stack = await startServiceStack('identities');
  await stack.startWorker();
  for (const d of [slow, quick]) {
    const res = await stack.api('POST', '/v1/devices:batch', {
      devices: [{ productKey: d.productKey, deviceKey: d.deviceKey, deviceSecret: d.deviceSecret }],
    });
    expect(res.body).toMatchObject({ created: 1, failed: [] });
  }
  fleet = new Fleet({ url: stack.mqttUrl }, [slow, quick]);
  await fleet.connect();
  for (const d of [slow, quick]) {
    await eventually(
      `${d.productKey}/${d.deviceKey} to report its version`,
      () => stack.api<{ firmwareVersion: string | null }>('GET', `/v1/devices/${d.productKey}/${d.deviceKey}`),
      (r) => r.body.firmwareVersion === '1.0.0',
      30_000,
    );
  }
});

afterAll(async () => {
  await fleet?.close();
  await stack?.stop();
});

describe('devices whose keys contain "-"', () => {
  it('upgrade independently although their keys concatenate to the same text', async () => {
    const [fwSlow, fwQuick] = [await firmwareFor(slow.productKey), await firmwareFor(quick.productKey)];
    const first = await verify(fwSlow, slow.deviceKey);
    await eventually(
      'the first device to be upgrading',
      () => recordStatus(first, slow.deviceKey),
      (s) => s === 'upgrading',
      60_000,
      100,
    );
    const second = await verify(fwQuick, quick.deviceKey);

    await eventually(
      'the second device to finish',
      () => recordStatus(second, quick.deviceKey),
      (s) => s === 'success' || s === 'failure' || s === 'skipped',
      90_000,
      250,
    );
    expect(await recordStatus(second, quick.deviceKey)).toBe('success');
    await eventually(
      'the first device to finish',
      () => recordStatus(first, slow.deviceKey),
      (s) => s === 'success' || s === 'failure' || s === 'skipped',
      90_000,
      250,
    );
    expect(await recordStatus(first, slow.deviceKey)).toBe('success');
    expect(fleet.device(slow.deviceKey).record.version).toBe('2.0.0');
    expect(fleet.device(quick.deviceKey).record.version).toBe('2.0.0');
  });
});
