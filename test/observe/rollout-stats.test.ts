/** The API's fleet gauges count only the records of active tasks, on the real database. */
import { activeRolloutDevicesByStatus, tasksByStatus } from '../../db/rollout-stats';
import { testDb } from '../helpers/stack';

let db: Awaited<ReturnType<typeof testDb>>;

beforeAll(async () => {
  db = await testDb('rollout-stats');
});
afterAll(async () => {
  await db.close();
});

it('counts tasks by status, and the devices of waiting, running and paused tasks by record status', async () => {
  await db.db.collection('tasks').insertMany([
    { taskId: 't-run', workflowId: 't-run', kind: 'verification', status: 'running', createdAt: new Date() },
    { taskId: 't-pause', status: 'paused' },
    { taskId: 't-done', status: 'completed' },
  ]);
  const record = (taskId: string, deviceKey: string, status: string) => ({
    _id: `${taskId}\u001f${deviceKey}`,
    taskId,
    deviceKey,
    status,
  });
  await db.db
    .collection('records')
    .insertMany([
      record('t-run', 'a', 'to_be_pushed'),
      record('t-run', 'b', 'upgrading'),
      record('t-run', 'c', 'success'),
      record('t-pause', 'a', 'to_be_pushed'),
      record('t-done', 'a', 'success'),
      record('t-done', 'b', 'failure'),
    ] as never[]);
  expect(await tasksByStatus(db.db)).toEqual({ waiting: 0, running: 1, paused: 1, completed: 1, cancelled: 0 });
  expect(await activeRolloutDevicesByStatus(db.db)).toEqual({
    to_be_pushed: 2,
    pushed: 0,
    upgrading: 1,
    success: 1,
    failure: 0,
    skipped: 0,
    cancelled: 0,
  });
});
