/**
 * Push tasks on the dev server with the real workflows, activities, records
 * and gateway event sink; devices are scripted at the MQTT hop.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { devServerEnv, testDb } from '../helpers/stack';
import { recordHistory } from '../helpers/histories';
import { createWorld, eventually, type World } from './world';

let env: TestWorkflowEnvironment;
let mongo: Awaited<ReturnType<typeof testDb>>;
let world: World;
let running: Promise<void>;

beforeAll(async () => {
  env = await devServerEnv();
  mongo = await testDb('push-task');
  world = await createWorld(env, mongo.db);
  running = world.worker.run();
});

afterAll(async () => {
  world.worker.shutdown();
  await running;
  await mongo.close();
  await env.teardown();
});

describe('snapshot push task', () => {
  it('upgrades online devices, records failures with their code, and waits for offline devices to reconnect', async () => {
    await world.addDevice('a1');
    await world.addDevice('a2');
    await world.addDevice('a3');
    await world.addDevice('a4-offline', { online: false });
    await world.addDevice('a5-other-version', { version: '0.9.0' });
    world.script.set('a2', 'fail');
    world.script.set('a3', 'succeed-by-inform');
    const taskId = await world.createTask({
      scope: 'target',
      filter: { deviceKeys: ['a1', 'a2', 'a3', 'a4-offline', 'a5-other-version'] },
    });

    await eventually(
      'three online devices to finish',
      () => world.counts(taskId),
      (c) => c.success === 2 && c.failure === 1,
    );
    expect(await world.taskStatus(taskId)).toBe('running');
    const failed = await world.record(taskId, 'a2');
    expect(failed).toMatchObject({ status: 'failure', failure: { code: '-2' } });
    expect(await world.record(taskId, 'a5-other-version')).toBeNull();
    expect(await world.record(taskId, 'a4-offline')).toMatchObject({ status: 'to_be_pushed', deviceOnline: false });
    expect(world.pushes.filter((p) => p.deviceKey === 'a4-offline')).toHaveLength(0);

    await world.setOnline('a4-offline', true);
    await eventually(
      'the reconnected device to succeed',
      () => world.counts(taskId),
      (c) => c.success === 3,
    );
    await eventually(
      'the task to complete',
      () => world.taskStatus(taskId),
      (s) => s === 'completed',
    );
    await recordHistory(env.client, taskId, 'task-snapshot-push');
    await recordHistory(env.client, 'ota-dev-pk-test-a4-offline', 'device-push-after-reconnect');
    const pushedTo = world.pushes.map((p) => p.deviceKey).sort();
    expect(pushedTo).toEqual(['a1', 'a2', 'a3', 'a4-offline']);
  });

  it('skips a device that another task is upgrading, naming that task', async () => {
    await world.addDevice('b1');
    world.script.set('b1', 'silent');
    const first = await world.createTask({ scope: 'target', filter: { deviceKeys: ['b1'] }, upgradeTimeout: 300 });
    await eventually(
      'b1 pushed by the first task',
      () => world.record(first, 'b1'),
      (r) => r?.status === 'pushed',
    );
    const second = await world.createTask({ scope: 'target', filter: { deviceKeys: ['b1'] } });
    const skipped = await eventually(
      'b1 skipped by the second task',
      () => world.record(second, 'b1'),
      (r) => r?.status === 'skipped',
    );
    expect(skipped?.skipReason).toContain(first);
    await world.tasks.cancel(first);
    await eventually(
      'first task cancelled',
      () => world.taskStatus(first),
      (s) => s === 'cancelled',
    );
    await eventually(
      'b1 cancelled in the first task',
      () => world.record(first, 'b1'),
      (r) => r?.status === 'cancelled',
    );
    await recordHistory(env.client, first, 'task-cancel');
  });
});
