/** The task list's order and paging: newest first by creation, whatever the ids look like. */
import { ensureAllIndexes } from '../../db/all-indexes';
import { listTasks } from '../../db/task-reads';
import { tasksCollection, type TaskDoc } from '../../db/tasks';
import { isOtaError } from '../../domain/errors';
import { testDb } from '../helpers/stack';

describe('task list', () => {
  let mongo: Awaited<ReturnType<typeof testDb>>;
  beforeAll(async () => {
    mongo = await testDb('task-list');
    await ensureAllIndexes(mongo.db);
    const at = (minute: number) => new Date(Date.UTC(2026, 10, 29, 12, minute));
    const task = (taskId: string, createdAt: Date): TaskDoc =>
      ({
        taskId,
        workflowId: taskId,
        kind: taskId.startsWith('verify') ? 'verification' : 'batch',
        name: taskId,
        productKey: 'pk',
        firmwareId: 'fw',
        firmware: { version: '2.0.0', signMethod: 'md5', sign: 'x', fileUrl: '/f', fileSize: 1 },
        sourceVersions: ['1.0.0'],
        strategy: 'snapshot',
        scope: 'all',
        method: 'push',
        upgradeTimeout: 7200,
        maxConcurrency: 300,
        status: 'running',
        createdAt,
        updatedAt: createdAt,
      }) as TaskDoc;
    // Created in this order; a verification id and an Idempotency-Key id sort elsewhere by id.
    await tasksCollection(mongo.db).insertMany([
      task('task-000000001-aaaa', at(1)),
      task('verify-000000002-bbbb', at(2)),
      task('task-ffffffffffffffffffff', at(3)),
      task('task-000000004-cccc', at(4)),
      task('task-000000005-dddd', at(4)),
    ]);
  });
  afterAll(() => mongo.close());

  it('lists newest first by creation time, ties by id, over pages', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listTasks(mongo.db, { limit: 2, cursor });
      seen.push(...page.items.map((t) => t.taskId as string));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([
      'task-000000005-dddd',
      'task-000000004-cccc',
      'task-ffffffffffffffffffff',
      'verify-000000002-bbbb',
      'task-000000001-aaaa',
    ]);
  });

  it('refuses a cursor it did not make', async () => {
    const bad = Buffer.from(JSON.stringify(['yesterday', 'task-1'])).toString('base64url');
    const err: unknown = await listTasks(mongo.db, { limit: 2, cursor: bad }).catch((e: unknown) => e);
    expect(isOtaError(err) && err.code === 'invalid_request' && err.details).toEqual([
      { path: 'query.cursor', message: 'is not a cursor returned by this list' },
    ]);
  });
});
