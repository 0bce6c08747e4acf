/**
 * Push tasks on the dev server with the real workflows, activities, records
 * and gateway event sink; devices are scripted at the MQTT hop.
 */
import { deviceWorkflowId } from '../../domain/ids';
import { getRecord } from '../../db/task-reads';
import { findTask } from '../../db/tasks';
import { devServerEnv } from '../helpers/stack';
import { recordHistory } from '../helpers/histories';
import { eventually, PK, useWorld } from './world';

const t = useWorld('push-task', devServerEnv);

describe('snapshot push task', () => {
  it('upgrades online devices, records failures with their code, and waits for offline devices to reconnect', async () => {
    await t.world.addDevice('a1');
    await t.world.addDevice('a2');
    await t.world.addDevice('a3');
    await t.world.addDevice('a4-offline', { online: false });
    await t.world.addDevice('a5-other-version', { version: '0.9.0' });
    t.world.script.set('a2', 'fail');
    t.world.script.set('a3', 'succeed-by-inform');
    const taskId = await t.world.createTask({
      scope: 'target',
      filter: { deviceKeys: ['a1', 'a2', 'a3', 'a4-offline', 'a5-other-version'] },
    });

    await eventually(
      'three online devices to finish',
      () => t.world.counts(taskId),
      (c) => c.success === 2 && c.failure === 1,
    );
    expect(await t.world.taskStatus(taskId)).toBe('running');
    const failed = await t.world.record(taskId, 'a2');
    expect(failed).toMatchObject({ status: 'failure', failure: { code: '-2' } });
    expect(await t.world.record(taskId, 'a5-other-version')).toBeNull();
    expect(await t.world.record(taskId, 'a4-offline')).toMatchObject({ status: 'to_be_pushed' });
    // As the API shows it: the waiting reason comes from the registry's presence.
    const task = (await findTask(t.mongo.db, taskId))!;
    expect(await getRecord(t.mongo.db, task, 'a4-offline')).toMatchObject({ waitReason: 'offline' });
    expect(t.world.pushes.filter((p) => p.deviceKey === 'a4-offline')).toHaveLength(0);

    await t.world.setOnline('a4-offline', true);
    await eventually(
      'the reconnected device to succeed',
      () => t.world.counts(taskId),
      (c) => c.success === 3,
    );
    await eventually(
      'the task to complete',
      () => t.world.taskStatus(taskId),
      (s) => s === 'completed',
    );
    await recordHistory(t.env.client, taskId, 'task-snapshot-push');
    await recordHistory(
      t.env.client,
      deviceWorkflowId({ productKey: PK, deviceKey: 'a4-offline' }),
      'device-push-after-reconnect',
    );
    const pushedTo = t.world.pushes.map((p) => p.deviceKey).sort();
    expect(pushedTo).toEqual(['a1', 'a2', 'a3', 'a4-offline']);
  });

  it('skips a device that another task is upgrading, naming that task', async () => {
    await t.world.addDevice('b1');
    t.world.script.set('b1', 'silent');
    const first = await t.world.createTask({ scope: 'target', filter: { deviceKeys: ['b1'] }, upgradeTimeout: 300 });
    await eventually(
      'b1 pushed by the first task',
      () => t.world.record(first, 'b1'),
      (r) => r?.status === 'pushed',
    );
    const second = await t.world.createTask({ scope: 'target', filter: { deviceKeys: ['b1'] } });
    const skipped = await eventually(
      'b1 skipped by the second task',
      () => t.world.record(second, 'b1'),
      (r) => r?.status === 'skipped',
    );
    expect(skipped?.skipReason).toContain(first);
    await t.world.tasks.cancel(first);
    await eventually(
      'first task cancelled',
      () => t.world.taskStatus(first),
      (s) => s === 'cancelled',
    );
    await eventually(
      'b1 cancelled in the first task',
      () => t.world.record(first, 'b1'),
      (r) => r?.status === 'cancelled',
    );
    await recordHistory(t.env.client, first, 'task-cancel');
  });

  it('an operator retry pushes a failed device again, as a new attempt of the running task', async () => {
    await t.world.addDevice('r2');
    await t.world.addDevice('r2-holds-task-open', { online: false });
    t.world.script.set('r2', (attempt) => (attempt === 1 ? 'fail' : 'succeed'));
    const taskId = await t.world.createTask({ scope: 'target', filter: { deviceKeys: ['r2', 'r2-holds-task-open'] } });
    await eventually(
      'r2 to fail',
      () => t.world.record(taskId, 'r2'),
      (r) => r?.status === 'failure',
    );
    expect(await t.world.tasks.retry(taskId, ['r2'])).toBe(1);
    await eventually(
      'r2 to succeed after the retry',
      () => t.world.record(taskId, 'r2'),
      (r) => r?.status === 'success',
    );
    // A new command id: a device that drops repeated commands must not take the retry for a redelivery.
    expect(t.world.pushes.filter((p) => p.deviceKey === 'r2').map((p) => p.commandId)).toEqual([
      `${taskId}.r2.1`,
      `${taskId}.r2.2`,
    ]);
    expect(await t.world.record(taskId, 'r2')).toMatchObject({ attempts: 2 });
  });
});
