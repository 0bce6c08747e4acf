/**
 * What an operator sees in the Temporal Web UI on the dev server: a task's
 * device workflows found by the search attributes, and devices waiting
 * offline kept as records only, with no device workflow until they reconnect.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { getRecord } from '../../db/task-reads';
import { findTask } from '../../db/tasks';
import { deviceWorkflowId as workflowIdOf } from '../../domain/ids';
import { devServerEnv } from '../helpers/stack';
import { eventually, PK, useWorld } from './world';

const t = useWorld('visibility', devServerEnv);

const only = (...deviceKeys: string[]) => ({ scope: 'target' as const, filter: { deviceKeys } });
const deviceWorkflowId = (deviceKey: string) => workflowIdOf({ productKey: PK, deviceKey });

/** The workflow ids a Web UI query lists, sorted. */
async function listed(query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of t.env.client.workflow.list({ query })) ids.push(w.workflowId);
  return ids.sort();
}

/** Visibility is indexed shortly after each change: wait for the expected list. */
const listsExactly = (query: string, expected: string[]) =>
  eventually(
    `the query ${query} to list ${expected.join(', ')}`,
    () => listed(query),
    (ids) => JSON.stringify(ids) === JSON.stringify([...expected].sort()),
  );

describe('the Temporal Web UI view of a rollout', () => {
  it("finds a task's device workflows by OtaTaskId, and one of them by device, product, version and status", async () => {
    await t.world.addDevice('sa1');
    await t.world.addDevice('sa2');
    const taskId = await t.world.createTask(only('sa1', 'sa2'));
    await eventually(
      'the task to complete',
      () => t.world.taskStatus(taskId),
      (s) => s === 'completed',
    );
    const devicesOf = `OtaTaskId="${taskId}" AND OtaDeviceKey IS NOT NULL`;
    await listsExactly(devicesOf, [deviceWorkflowId('sa1'), deviceWorkflowId('sa2')]);
    await listsExactly(`OtaTaskId="${taskId}"`, [taskId, deviceWorkflowId('sa1'), deviceWorkflowId('sa2')]);
    await listsExactly(
      `OtaTaskId="${taskId}" AND OtaDeviceKey="sa1" AND OtaProductKey="${PK}" AND OtaFirmwareVersion="2.0.0" AND OtaStatus="success"`,
      [deviceWorkflowId('sa1')],
    );
    expect(await listed(`OtaTaskId="${taskId}" AND OtaStatus="failure"`)).toEqual([]);
  });

  it('keeps a device waiting offline as a record with no workflow, and starts its workflow when it reconnects', async () => {
    await t.world.addDevice('vo-on');
    await t.world.addDevice('vo-off', { online: false });
    // Silent: the online device's workflow keeps running, the positive case of the same query.
    t.world.script.set('vo-on', 'silent');
    const taskId = await t.world.createTask({ ...only('vo-on', 'vo-off'), upgradeTimeout: 3600 });
    const task = (await findTask(t.mongo.db, taskId))!;
    await eventually(
      'vo-off to be recorded waiting offline',
      () => getRecord(t.mongo.db, task, 'vo-off'),
      (r) => r?.waitReason === 'offline',
    );
    const running = `OtaTaskId="${taskId}" AND OtaDeviceKey IS NOT NULL AND ExecutionStatus="Running"`;
    await listsExactly(running, [deviceWorkflowId('vo-on')]);
    await expect(t.env.client.workflow.getHandle(deviceWorkflowId('vo-off')).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );

    await t.world.setOnline('vo-off', true);
    await eventually(
      'vo-off to succeed once online',
      () => t.world.record(taskId, 'vo-off'),
      (r) => r?.status === 'success',
    );
    await listsExactly(`OtaTaskId="${taskId}" AND OtaDeviceKey="vo-off"`, [deviceWorkflowId('vo-off')]);
    await t.world.tasks.cancel(taskId);
    await eventually(
      'the task to be cancelled',
      () => t.world.taskStatus(taskId),
      (s) => s === 'cancelled',
    );
  });
});
