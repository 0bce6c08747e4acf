/**
 * Firmware hosted by the service, end to end on the real stack: an uploaded
 * file reaches simulated devices through the signed URL the worker puts into
 * the upgrade command; a device resumes a cut download with Range, checks the
 * sign and upgrades; a device that gets bytes not matching the sign reports
 * the EnOS verification failure (-3).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Fleet } from '../../simulator';
import type { DeviceSpec } from '../../simulator';
import { eventually } from '../helpers/eventually';
import { startServiceStack, type ServiceStack } from '../helpers/service-stack';

const PK = 'files-pk';
const SIZE = 300_000;
const CUT = 100_000;
let stack: ServiceStack;
let fleet: Fleet;

const spec = (deviceKey: string, over: Partial<DeviceSpec> = {}): DeviceSpec => ({
  productKey: PK,
  deviceKey,
  deviceSecret: `secret-${deviceKey}`,
  version: '1.0.0',
  behaviour: { kind: 'succeed', stepDelayMs: 20 },
  ...over,
});
const devices = [spec('flaky', { cutDownloadAfterBytes: CUT }), spec('corrupt')];

interface VerificationState {
  status: string;
  verified: boolean;
  devices: Array<{ deviceKey: string; status: string; failure: { code: string } | null }>;
}

async function firmwareWithFile(version: string, file: Buffer): Promise<{ firmwareId: string; fileUrl: string }> {
  const created = await stack.api<{ firmwareId: string }>('POST', '/v1/firmwares', {
    productKey: PK,
    version,
  });
  expect(created.status).toBe(201);
  const { firmwareId } = created.body;
  const sha256 = createHash('sha256').update(file).digest('hex');
  const res = await fetch(`${stack.apiUrl}/v1/firmwares/${firmwareId}/file?sign=${sha256}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: new Uint8Array(file),
  });
  expect(res.status).toBe(200);
  const fw = (await res.json()) as { fileUrl: string; sign: string; fileSize: number };
  expect(fw).toMatchObject({ sign: sha256, fileSize: file.length });
  return { firmwareId, fileUrl: fw.fileUrl };
}

const verify = (firmwareId: string, deviceKey: string) =>
  stack.api('POST', `/v1/firmwares/${firmwareId}/verification`, { deviceKeys: [deviceKey] });

const verificationOf = (firmwareId: string) =>
  eventually(
    `the verification of ${firmwareId} to end`,
    () => stack.api<VerificationState>('GET', `/v1/firmwares/${firmwareId}/verification`),
    (r) => r.body.devices.every((d) => d.status === 'success' || d.status === 'failure') && r.body.devices.length > 0,
    60_000,
    250,
  );

beforeAll(async () => {
  stack = await startServiceStack('files');
  await stack.startWorker();
  const created = await stack.api<{ created: number }>('POST', '/v1/devices:batch', {
    devices: [...devices, asker].map((s) => ({
      productKey: PK,
      deviceKey: s.deviceKey,
      deviceSecret: s.deviceSecret,
      firmwareVersion: s.version,
    })),
  });
  expect(created.body.created).toBe(devices.length + 1);
  fleet = new Fleet({ url: stack.mqttUrl }, devices);
  await fleet.connect();
  await eventually(
    'the devices to report 1.0.0',
    () => stack.api<{ items: unknown[] }>('GET', `/v1/devices?productKey=${PK}&version=1.0.0`),
    (r) => r.body.items.length === devices.length + 1,
    30_000,
    250,
  );
});

/** Registered with its version, but connects only once a task offers it firmware on request. */
const asker = spec('asker', { behaviour: { kind: 'request', stepDelayMs: 20 } });
let verifiedFirmwareId = '';

afterAll(async () => {
  await fleet?.close();
  await stack?.stop();
});

it('a device downloads the uploaded file through a signed URL, resumes after a cut, checks the sign and upgrades', async () => {
  const file = randomBytes(SIZE);
  const { firmwareId, fileUrl } = await firmwareWithFile('2.0.0', file);
  expect((await verify(firmwareId, 'flaky')).status).toBe(202);
  const done = await verificationOf(firmwareId);
  expect(done.body.devices).toMatchObject([{ deviceKey: 'flaky', status: 'success' }]);
  // The firmware is marked verified just after its device's record succeeds.
  await eventually(
    'the firmware to be verified',
    () => stack.api<{ verified: boolean }>('GET', `/v1/firmwares/${firmwareId}`),
    (r) => r.body.verified,
    30_000,
    250,
  );
  verifiedFirmwareId = firmwareId;

  const record = fleet.device('flaky').record;
  expect(record.version).toBe('2.0.0');
  // The command carried the stored URL, signed as it left: no API token, an expiry, a signature.
  const sent = new URL(String((record.commands[0].raw as { params: { fileUrl: string } }).params.fileUrl));
  expect(`${sent.origin}${sent.pathname}`).toBe(fileUrl);
  expect(sent.searchParams.get('signature')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(Number(sent.searchParams.get('expires')) * 1000).toBeGreaterThan(Date.now());
  expect(record.downloads).toEqual([
    {
      url: sent.href,
      attempts: [
        { range: '', status: 200 },
        { range: `bytes=${CUT}-`, status: 206 },
      ],
      bytes: SIZE,
      result: 'verified',
    },
  ]);
});

it('a device that receives bytes not matching the sign reports -3 and stays on its version', async () => {
  const { firmwareId } = await firmwareWithFile('2.0.1', randomBytes(SIZE));
  // The stored copy goes bad after the upload (disk or storage corruption): same ETag, other bytes.
  const dir = path.join(stack.config.dataDir, 'firmware-files');
  const [stored] = fs.readdirSync(dir).filter((name) => name.startsWith(firmwareId));
  const bytes = fs.readFileSync(path.join(dir, stored));
  bytes[SIZE - 1] ^= 0xff;
  fs.writeFileSync(path.join(dir, stored), bytes);

  expect((await verify(firmwareId, 'corrupt')).status).toBe(202);
  const done = await verificationOf(firmwareId);
  expect(done.body.devices).toMatchObject([{ deviceKey: 'corrupt', status: 'failure', failure: { code: '-3' } }]);
  expect(done.body.verified).toBe(false);
  const record = fleet.device('corrupt').record;
  expect(record.version).toBe('1.0.0');
  expect(record.downloads.map((d) => d.result)).toEqual(['bad-sign']);
  expect(record.progress.map((p) => p.step)).toEqual([-3]);
});

it('a device in upon-request mode gets a signed URL in its getversion answer and downloads the file', async () => {
  expect(verifiedFirmwareId).not.toBe('');
  const task = await stack.api<{ taskId: string }>('POST', '/v1/upgrade-tasks', {
    firmwareId: verifiedFirmwareId,
    sourceVersions: ['1.0.0'],
    strategy: 'snapshot',
    // Upon-request tasks cover the product; the other device on 1.0.0 never asks and stays pending.
    scope: 'all',
    method: 'request',
  });
  if (task.status !== 201) throw new Error(`task refused: ${JSON.stringify(task.body)}`);
  // The device asks once, on connect: only after the task has taken it in is there an offer to answer with.
  await eventually(
    'the task to take the asking device in',
    () => stack.api('GET', `/v1/upgrade-tasks/${task.body.taskId}/devices/asker`),
    (r) => r.status === 200,
    30_000,
    250,
  );
  const askers = new Fleet({ url: stack.mqttUrl }, [asker]);
  try {
    await askers.connect();
    await eventually(
      'the asking device to succeed',
      () => stack.api<{ status: string }>('GET', `/v1/upgrade-tasks/${task.body.taskId}/devices/asker`),
      (r) => r.body.status === 'success',
      60_000,
      250,
    );
    const record = askers.device('asker').record;
    expect(record.version).toBe('2.0.0');
    expect(record.downloads).toHaveLength(1);
    expect(record.downloads[0]).toMatchObject({ bytes: SIZE, result: 'verified' });
    expect(new URL(record.downloads[0].url).searchParams.get('signature')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  } finally {
    await askers.close();
  }
});
