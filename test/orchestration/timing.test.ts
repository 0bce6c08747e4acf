/**
 * Time in the orchestration — windows, timeouts, retries, days offline,
 * offers that expire — on the time-skipping server: days pass in seconds.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { listRecords } from '../../db/task-reads';
import { findTask } from '../../db/tasks';
import { testDb, timeSkippingEnv } from '../helpers/stack';
import { recordHistory } from '../helpers/histories';
import { createWorld, eventually, PK, type World } from './world';

let env: TestWorkflowEnvironment;
let mongo: Awaited<ReturnType<typeof testDb>>;
let world: World;
let running: Promise<void>;

beforeAll(async () => {
  env = await timeSkippingEnv();
  mongo = await testDb('timing');
  world = await createWorld(env, mongo.db);
  running = world.worker.run();
});

afterAll(async () => {
  world.worker.shutdown();
  await running;
  await mongo.close();
  await env.teardown();
});

const only = (...deviceKeys: string[]) => ({ scope: 'target' as const, filter: { deviceKeys } });
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const pushesTo = (deviceKey: string) => world.pushes.filter((p) => p.deviceKey === deviceKey).length;

describe('orchestration over time', () => {
  it('does not push outside the schedule window, and pushes once it opens', async () => {
    const now = await env.currentTimeMs();
    const opens = now + 2 * 3600_000;
    await world.addDevice('w1');
    const taskId = await world.createTask({
      ...only('w1'),
      schedule: { timezone: 'UTC', windows: [{ start: hhmm(opens + 60_000), end: hhmm(opens + 3 * 3600_000) }] },
    });
    await eventually(
      'w1 to join the waiting task',
      () => world.record(taskId, 'w1'),
      (r) => r !== null,
    );
    await eventually(
      'the task to wait for its window',
      () => world.taskStatus(taskId),
      (s) => s === 'waiting',
    );
    const task = await findTask(mongo.db, taskId);
    const page = await listRecords(mongo.db, task!, { limit: 10 });
    expect(page.items[0]).toMatchObject({ deviceKey: 'w1', status: 'to_be_pushed', waitReason: 'window_closed' });
    expect(pushesTo('w1')).toBe(0);

    await env.sleep('125 minutes');
    const done = await eventually(
      'w1 to be upgraded inside the window',
      () => world.record(taskId, 'w1'),
      (r) => r?.status === 'success',
    );
    const pushed = (done?.timeline as Array<{ at: string; event: string }>).find((e) => e.event === 'pushed');
    expect(Date.parse(pushed!.at)).toBeGreaterThanOrEqual(opens);
  });

  it('fails a device that reports nothing within the upgrade timeout', async () => {
    await world.addDevice('t1');
    world.script.set('t1', 'silent');
    const taskId = await world.createTask({ ...only('t1'), upgradeTimeout: 300 });
    await eventually(
      't1 pushed',
      () => world.record(taskId, 't1'),
      (r) => r?.status === 'pushed',
    );
    await env.sleep('6 minutes');
    const rec = await eventually(
      't1 to time out',
      () => world.record(taskId, 't1'),
      (r) => r?.status === 'failure',
    );
    expect(rec).toMatchObject({ failure: { code: 'timeout' } });
  });

  it('retries a failed device after the interval and records the second attempt', async () => {
    await world.addDevice('r1');
    world.script.set('r1', (attempt) => (attempt === 1 ? 'fail' : 'succeed'));
    const taskId = await world.createTask({ ...only('r1'), retry: { maxAttempts: 2, intervalSeconds: 600 } });
    await eventually(
      'r1 to wait for its retry',
      () => world.record(taskId, 'r1'),
      (r) => r?.waitReason === 'retry_scheduled',
    );
    expect(pushesTo('r1')).toBe(1);
    await env.sleep('11 minutes');
    const rec = await eventually(
      'r1 to succeed on attempt 2',
      () => world.record(taskId, 'r1'),
      (r) => r?.status === 'success',
    );
    expect(rec).toMatchObject({ attempts: 2 });
    await recordHistory(env.client, 'ota-dev-pk-test-r1', 'device-retry');
    expect(world.pushes.filter((p) => p.deviceKey === 'r1').map((p) => p.commandId)).toEqual([
      `${taskId}.r1.1`,
      `${taskId}.r1.2`,
    ]);
  });

  it('waits for a device offline for days without failing it, then pushes again when it reconnects', async () => {
    await world.addDevice('o1');
    let answer = false;
    world.script.set('o1', () => (answer ? 'succeed' : 'silent'));
    const taskId = await world.createTask({ ...only('o1'), upgradeTimeout: 300 });
    await eventually(
      'o1 pushed',
      () => world.record(taskId, 'o1'),
      (r) => r?.status === 'pushed',
    );
    await world.setOnline('o1', false);
    await eventually(
      'o1 marked offline',
      () => world.record(taskId, 'o1'),
      (r) => r?.deviceOnline === false,
    );
    await env.sleep('3 days');
    expect(await world.record(taskId, 'o1')).toMatchObject({ status: 'pushed' });
    answer = true;
    await world.setOnline('o1', true);
    await eventually(
      'o1 to succeed after the re-push',
      () => world.record(taskId, 'o1'),
      (r) => r?.status === 'success',
    );
    const commands = world.pushes.filter((p) => p.deviceKey === 'o1').map((p) => p.commandId);
    expect(commands).toEqual([`${taskId}.o1.1`, `${taskId}.o1.1`]);
  });

  it('offers firmware upon device request, lets an untaken offer expire, and tracks a taken one', async () => {
    // Request tasks take scope `all`: a version no other device here runs keeps this one alone in scope.
    await world.addDevice('q1', { version: '1.5.0' });
    const device = { productKey: PK, deviceKey: 'q1' };
    const taskId = await world.createTask({ method: 'request', sourceVersions: ['1.5.0'] });
    await eventually(
      'the request task to run',
      () => world.taskStatus(taskId),
      (s) => s === 'running',
    );
    const offer = await world.events.firmwareRequested(device);
    expect(offer).toEqual([expect.objectContaining({ version: world.firmware.version, fileSize: 1024 })]);
    expect(await world.events.firmwareRequested({ productKey: PK, deviceKey: 'not-in-any-task' })).toEqual([]);

    await env.sleep('11 minutes');
    await eventually(
      'the offer to expire',
      () => world.record(taskId, 'q1'),
      (r) =>
        (r?.timeline as Array<{ event: string }> | undefined)?.some((e) => e.event === 'expired') === true &&
        r?.status === 'to_be_pushed',
    );
    expect(await world.events.firmwareRequested(device)).toHaveLength(1);
    await world.events.progressReported(device, 50, 'flashing');
    await eventually(
      'q1 upgrading',
      () => world.record(taskId, 'q1'),
      (r) => r?.status === 'upgrading',
    );
    await world.events.progressReported(device, 100, 'done');
    await eventually(
      'q1 success',
      () => world.record(taskId, 'q1'),
      (r) => r?.status === 'success',
    );
    await eventually(
      'the snapshot request task to complete',
      () => world.taskStatus(taskId),
      (s) => s === 'completed',
    );
    await recordHistory(env.client, taskId, 'task-request');
    await recordHistory(env.client, 'ota-dev-pk-test-q1', 'device-request-offer');
  });
});
