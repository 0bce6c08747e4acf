/**
 * End to end on the real stack — Temporal dev server, database, gateway over
 * real MQTT, the worker as its own process, simulated EnOS devices — driven
 * only through the HTTP API, as an operator would.
 */
import { Fleet, fleetSpecs } from '../../simulator';
import type { Behaviour, DeviceSpec } from '../../simulator';
import { eventually } from '../helpers/eventually';
import { startServiceStack, type ServiceStack } from '../helpers/service-stack';

const PK = 'e2e-pk';
let stack: ServiceStack;
let fleet: Fleet;

interface Counts {
  counts: Record<string, number>;
  total: number;
  status: string;
}
interface RecordPage {
  items: Array<{
    deviceKey: string;
    status: string;
    failure: { code: string } | null;
    skipReason: string | null;
    waitReason: string | null;
  }>;
  nextCursor: string | null;
}

/** Fails with the answer's body in the message, so a refusal says why. */
function expectStatus(res: { status: number; body: unknown }, status: number): void {
  if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
}

const quick = { stepDelayMs: 20 };
const group = (prefix: string, count: number, behaviour: Behaviour): DeviceSpec[] =>
  fleetSpecs({ productKey: PK, count, prefix, version: '1.0.0', behaviour });

const groups = {
  ok: group('ok-', 140, { kind: 'succeed', ...quick }),
  dl: group('fail-download-', 10, { kind: 'fail', code: -2, ...quick }),
  sig: group('fail-sign-', 10, { kind: 'fail', code: -3, ...quick }),
  dec: group('decline-', 10, { kind: 'decline' }),
  late: group('late-', 5, { kind: 'offline', forMs: 4000, then: { kind: 'succeed', ...quick } }),
  // Reports its version, then is offline when the task starts: it gets its command only on reconnecting.
  away: group('away-', 1, { kind: 'succeed', ...quick }),
  dropNew: group('drop-new-', 5, { kind: 'drop', reconnectAfterMs: 800, comeBackOn: 'new', ...quick }),
  dropOld: group('drop-old-', 5, { kind: 'drop', reconnectAfterMs: 800, comeBackOn: 'old', ...quick }),
  busy: group('busy-', 10, { kind: 'silent' }),
  verifiers: fleetSpecs({
    productKey: PK,
    count: 3,
    prefix: 'verifier-',
    version: '0.9.0',
    behaviour: { kind: 'succeed', ...quick },
  }),
};
const keys = (specs: DeviceSpec[]) => specs.map((s) => s.deviceKey).sort();

async function allRecords(taskId: string): Promise<RecordPage['items']> {
  const items: RecordPage['items'] = [];
  let cursor: string | null = null;
  do {
    const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const page = await stack.api<RecordPage>('GET', `/v1/upgrade-tasks/${taskId}/devices?limit=500${q}`);
    items.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return items;
}

/** A rollout takes its time: two minutes unless said otherwise, polling the API four times a second. */
const until = <T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> =>
  eventually(what, fn, ok, timeoutMs, 250);

beforeAll(async () => {
  stack = await startServiceStack('rollout');
  await stack.startWorker();
  const all = Object.values(groups).flat();
  const created = await stack.api<{ created: number; failed: unknown[] }>('POST', '/v1/devices:batch', {
    devices: all.map((s) => ({ productKey: PK, deviceKey: s.deviceKey, deviceSecret: s.deviceSecret })),
  });
  expect(created.body).toMatchObject({ created: all.length, failed: [] });
  fleet = new Fleet({ url: stack.mqttUrl, maxConcurrentConnects: 50 }, all);
  await fleet.connect();
  // The gateway answers an inform at once and stores the version just after: wait until the registry has them all.
  for (const [version, count] of [
    ['1.0.0', all.length - 3],
    ['0.9.0', 3],
  ] as const) {
    await until(
      `${count} devices reporting ${version}`,
      () => stack.api<{ items: unknown[] }>('GET', `/v1/devices?productKey=${PK}&version=${version}&limit=500`),
      (r) => r.body.items.length === count,
      30_000,
    );
  }
});

afterAll(async () => {
  await fleet?.close();
  await stack?.stop();
});

describe('a fleet rollout through the HTTP API', () => {
  let firmwareId = '';

  it('verifies new firmware on three devices before any batch task may use it', async () => {
    const fw = await stack.api<{ firmwareId: string; verified: boolean }>('POST', '/v1/firmwares', {
      productKey: PK,
      version: '2.0.0',
      fileUrl: '/1b30e0ea83002000/ota/e2e-2.0.0',
      fileSize: 4096,
      signMethod: 'md5',
      sign: '9E107D9D372BB6826BD81D3542A419D6',
    });
    expectStatus(fw, 201);
    firmwareId = fw.body.firmwareId;
    const refused = await stack.api<{ error: { code: string } }>('POST', '/v1/upgrade-tasks', {
      firmwareId,
      sourceVersions: ['1.0.0'],
      strategy: 'snapshot',
      scope: 'all',
      method: 'push',
    });
    expectStatus(refused, 409);

    const started = await stack.api('POST', `/v1/firmwares/${firmwareId}/verification`, {
      deviceKeys: keys(groups.verifiers),
    });
    expectStatus(started, 202);
    await until(
      'the firmware to be verified',
      () => stack.api<{ verified: boolean }>('GET', `/v1/firmwares/${firmwareId}`),
      (r) => r.body.verified === true,
      60_000,
    );
    for (const k of keys(groups.verifiers)) expect(fleet.device(k).record.version).toBe('2.0.0');
  });

  it('pushes a snapshot task to 200 devices with mixed behaviours, surviving a worker kill, with exact outcomes', async () => {
    const holder = await stack.api<{ taskId: string }>('POST', '/v1/upgrade-tasks', {
      name: 'holds the busy devices',
      firmwareId,
      sourceVersions: ['1.0.0'],
      strategy: 'snapshot',
      scope: 'target',
      filter: { deviceKeys: keys(groups.busy) },
      method: 'push',
      upgradeTimeout: 3600,
    });
    expectStatus(holder, 201);
    await until(
      'the busy devices to be pushed',
      () => stack.api<Counts>('GET', `/v1/upgrade-tasks/${holder.body.taskId}`),
      (r) => r.body.counts.pushed === 10,
    );

    const [awayKey] = keys(groups.away);
    const away = fleet.device(awayKey);
    await away.disconnect();
    await until(
      'the away device to be offline in the registry',
      () => stack.api<{ online: boolean }>('GET', `/v1/devices/${PK}/${awayKey}`),
      (r) => r.body.online === false,
    );

    const task = await stack.api<{ taskId: string; workflowId: string }>('POST', '/v1/upgrade-tasks', {
      firmwareId,
      sourceVersions: ['1.0.0'],
      strategy: 'snapshot',
      scope: 'all',
      method: 'push',
      maxConcurrency: 50,
    });
    expectStatus(task, 201);
    const taskId = task.body.taskId;
    expect(task.body.workflowId).toBe(taskId);

    await until(
      'the away device to be recorded waiting offline',
      () => stack.api<RecordPage>('GET', `/v1/upgrade-tasks/${taskId}/devices?deviceKey=${awayKey}`),
      (r) => r.body.items[0]?.waitReason === 'offline',
    );
    expect(away.record.commands).toEqual([]);
    expect(await away.connect()).toBe(true);
    await away.inform('1.0.0');

    await until(
      'a third of the devices to finish',
      () => stack.api<Counts>('GET', `/v1/upgrade-tasks/${taskId}`),
      (r) => r.body.counts.success + r.body.counts.failure > 60,
    );
    await stack.killWorker();
    await new Promise((r) => setTimeout(r, 1000));
    await stack.startWorker();

    const done = await until(
      'the task to complete',
      () => stack.api<Counts>('GET', `/v1/upgrade-tasks/${taskId}`),
      (r) => r.body.status === 'completed',
      180_000,
    );
    expect(done.body.total).toBe(196);
    const records = await allRecords(taskId);
    const byStatus = (status: string) =>
      records
        .filter((r) => r.status === status)
        .map((r) => r.deviceKey)
        .sort();
    expect(byStatus('success')).toEqual(keys([...groups.ok, ...groups.late, ...groups.away, ...groups.dropNew]));
    expect(byStatus('failure')).toEqual(keys([...groups.dl, ...groups.sig, ...groups.dec, ...groups.dropOld]));
    expect(byStatus('skipped')).toEqual(keys(groups.busy));
    const codeOf = (k: string) => records.find((r) => r.deviceKey === k)?.failure?.code;
    for (const k of keys(groups.dl)) expect(codeOf(k)).toBe('-2');
    for (const k of keys(groups.sig)) expect(codeOf(k)).toBe('-3');
    for (const k of keys(groups.dec)) expect(codeOf(k)).toBe('-5');
    for (const k of keys(groups.dropOld)) expect(codeOf(k)).toBe('version_mismatch');
    for (const r of records.filter((x) => x.status === 'skipped')) expect(r.skipReason).toContain(holder.body.taskId);

    // One command per device and attempt: a redelivery after the kill may repeat it, never with a new id.
    for (const spec of [
      ...groups.ok,
      ...groups.dl,
      ...groups.sig,
      ...groups.dec,
      ...groups.late,
      ...groups.away,
      ...groups.dropNew,
      ...groups.dropOld,
    ]) {
      const ids = new Set(fleet.device(spec.deviceKey).record.commands.map((c) => c.id));
      expect([spec.deviceKey, ids.size]).toEqual([spec.deviceKey, 1]);
    }
    const tab = await stack.api<RecordPage>(
      'GET',
      `/v1/upgrade-tasks/${taskId}/devices?status=failure&deviceKey=decline-&limit=4`,
    );
    expect(tab.body.items).toHaveLength(4);
    expect(tab.body.nextCursor).not.toBeNull();
    await stack.api('POST', `/v1/upgrade-tasks/${holder.body.taskId}/cancel`);
  }, 300_000);

  it('an increment task picks up devices registered while it runs', async () => {
    const inc = await stack.api<{ taskId: string }>('POST', '/v1/upgrade-tasks', {
      firmwareId,
      sourceVersions: ['1.0.0'],
      strategy: 'increment',
      scope: 'target',
      filter: { tags: [{ key: 'wave', value: 'late' }] },
      method: 'push',
    });
    expectStatus(inc, 201);
    const newcomers = fleetSpecs({
      productKey: PK,
      count: 5,
      prefix: 'newcomer-',
      version: '1.0.0',
      behaviour: { kind: 'succeed', ...quick },
    });
    const created = await stack.api('POST', '/v1/devices:batch', {
      devices: newcomers.map((s) => ({
        productKey: PK,
        deviceKey: s.deviceKey,
        deviceSecret: s.deviceSecret,
        tags: { wave: 'late' },
      })),
    });
    expectStatus(created, 200);
    for (const spec of newcomers) fleet.add(spec);
    await fleet.connect();
    const done = await until(
      'the newcomers to be upgraded',
      () => stack.api<Counts>('GET', `/v1/upgrade-tasks/${inc.body.taskId}`),
      (r) => r.body.counts.success === 5,
      60_000,
    ).catch(async (err: Error) => {
      const seen = await stack.api('GET', `/v1/devices?productKey=${PK}&tag=wave:late`);
      throw new Error(`${err.message}\nnewcomers as the registry sees them: ${JSON.stringify(seen.body)}`);
    });
    expect(done.body.status).toBe('running');
    const cancel = await stack.api<{ requested: string }>('POST', `/v1/upgrade-tasks/${inc.body.taskId}/cancel`);
    expectStatus(cancel, 202);
  });
});
