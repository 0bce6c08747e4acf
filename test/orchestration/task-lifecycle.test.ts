/**
 * Strategies and control on the dev server: snapshot versus increment
 * membership, pause/resume/cancel, verification, and continue-as-new with
 * device signals arriving around it.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { firmwares } from '../../db/firmware';
import { devices } from '../../db/devices';
import { taskProgress } from '../../workflows/messages';
import { devServerEnv, testDb } from '../helpers/stack';
import { recordHistory } from '../helpers/histories';
import { createWorld, eventually, PK, type World } from './world';

let env: TestWorkflowEnvironment;
let mongo: Awaited<ReturnType<typeof testDb>>;
let world: World;
let running: Promise<void>;

beforeAll(async () => {
  env = await devServerEnv();
  mongo = await testDb('lifecycle');
  world = await createWorld(env, mongo.db);
  running = world.worker.run();
});

afterAll(async () => {
  world.worker.shutdown();
  await running;
  await mongo.close();
  await env.teardown();
});

const pushesTo = (deviceKey: string) => world.pushes.filter((p) => p.deviceKey === deviceKey).length;
const tagged = (tag: string) => ({ scope: 'target' as const, filter: { tags: [{ key: 'batch', value: tag }] } });

describe('task strategies and control', () => {
  it('snapshot: a device registered after creation never joins', async () => {
    await world.addDevice('s1', { tags: { batch: 'snap' } });
    const taskId = await world.createTask(tagged('snap'));
    await eventually(
      's1 to succeed',
      () => world.record(taskId, 's1'),
      (r) => r?.status === 'success',
    );
    await world.addDevice('s2-late', { tags: { batch: 'snap' } });
    await world.events.devicesRegistered(PK);
    await eventually(
      'the snapshot task to complete',
      () => world.taskStatus(taskId),
      (s) => s === 'completed',
    );
    expect(await world.record(taskId, 's2-late')).toBeNull();
    expect(pushesTo('s2-late')).toBe(0);
  });

  it('increment: devices registered later, or reporting a source version later, join the running task', async () => {
    await world.addDevice('i1', { tags: { batch: 'inc' } });
    const taskId = await world.createTask({ ...tagged('inc'), strategy: 'increment' });
    await eventually(
      'i1 to succeed',
      () => world.record(taskId, 'i1'),
      (r) => r?.status === 'success',
    );

    await world.addDevice('i2-registered-later', { tags: { batch: 'inc' } });
    await world.events.devicesRegistered(PK);
    await eventually(
      'the new device to join and succeed',
      () => world.record(taskId, 'i2-registered-later'),
      (r) => r?.status === 'success',
    );

    await world.addDevice('i3-old-version', { tags: { batch: 'inc' }, version: '0.5.0' });
    await world.events.devicesRegistered(PK);
    const device = { productKey: PK, deviceKey: 'i3-old-version' };
    await devices(mongo.db).updateOne(device, { $set: { firmwareVersion: '1.0.0', versionReportedAt: new Date() } });
    await world.events.versionReported(device, '1.0.0');
    await eventually(
      'the device reporting a source version to join',
      () => world.record(taskId, 'i3-old-version'),
      (r) => r?.status === 'success',
    );
    expect(await world.taskStatus(taskId)).toBe('running');
    await world.tasks.cancel(taskId);
    await eventually(
      'the increment task to end when cancelled',
      () => world.taskStatus(taskId),
      (s) => s === 'cancelled',
    );
    await recordHistory(env.client, taskId, 'task-increment');
  });

  it('pause stops new pushes, resume continues, cancel cancels the devices still waiting', async () => {
    for (const k of ['p1', 'p2', 'p3']) await world.addDevice(k, { tags: { batch: 'pause' }, online: false });
    const taskId = await world.createTask(tagged('pause'));
    await eventually(
      'three waiting records',
      () => world.counts(taskId),
      (c) => c.to_be_pushed === 3,
    );
    await world.tasks.pause(taskId);
    await eventually(
      'the task to be paused',
      () => world.taskStatus(taskId),
      (s) => s === 'paused',
    );
    await world.setOnline('p1', true);
    await new Promise((r) => setTimeout(r, 1500));
    expect(pushesTo('p1')).toBe(0);
    await world.tasks.resume(taskId);
    await eventually(
      'p1 to succeed after resume',
      () => world.record(taskId, 'p1'),
      (r) => r?.status === 'success',
    );
    await world.tasks.cancel(taskId);
    await eventually(
      'the task to be cancelled',
      () => world.taskStatus(taskId),
      (s) => s === 'cancelled',
    );
    expect(await world.counts(taskId)).toMatchObject({ success: 1, cancelled: 2, to_be_pushed: 0 });
    expect(pushesTo('p2') + pushesTo('p3')).toBe(0);
  });

  it('verification: the firmware becomes verified only when every named device succeeds', async () => {
    await world.addDevice('v1');
    await world.addDevice('v2');
    await firmwares(mongo.db).updateOne({ firmwareId: world.firmware.firmwareId }, { $set: { verified: false } });
    const { task } = await world.tasks.create(
      {
        kind: 'verification',
        name: 'verify',
        firmwareId: world.firmware.firmwareId,
        productKey: PK,
        firmware: world.firmware,
        sourceVersions: ['1.0.0'],
        strategy: 'snapshot',
        scope: 'target',
        filter: { deviceKeys: ['v1', 'v2'] },
        method: 'push',
        upgradeTimeout: 300,
        maxConcurrency: 2,
      },
      { kind: 'verify' },
    );
    await eventually(
      'the verification to complete',
      () => world.taskStatus(task.taskId),
      (s) => s === 'completed',
    );
    expect((await firmwares(mongo.db).findOne({ firmwareId: world.firmware.firmwareId }))?.verified).toBe(true);
    await recordHistory(env.client, task.taskId, 'task-verification');
    await recordHistory(env.client, 'ota-dev-pk-test-v1', 'device-verification');
  });

  it('continues as new long before history limits, without losing a device or a signal', async () => {
    const keys = Array.from({ length: 24 }, (_, i) => `can-${String(i).padStart(2, '0')}`);
    for (const k of keys) await world.addDevice(k, { tags: { batch: 'can' } });
    // A small history budget forces several continue-as-new while devices finish and signal.
    const taskId = await world.createTask({ ...tagged('can'), maxConcurrency: 4 }, { historyBudget: 40 });
    const counts = await eventually(
      'all 24 devices to succeed',
      () => world.counts(taskId),
      (c) => c.success === 24,
      60_000,
    );
    expect(counts.failure).toBe(0);
    await eventually(
      'the task to complete',
      () => world.taskStatus(taskId),
      (s) => s === 'completed',
    );
    const progress = await env.client.workflow.getHandle(taskId).query(taskProgress);
    expect(progress.runs).toBeGreaterThan(2);
    expect(progress.finished).toBe(24);
  });
});
