/**
 * Counts per status under concurrency: many devices finish at once (each
 * record written by its own device's update, as the device workflows do),
 * counts are read while they do, and afterwards the counts equal a tally of
 * the records themselves.
 */
import { ensureAllIndexes } from '../../db/all-indexes';
import { recordCountsByStatus } from '../../db/record-counts';
import { applyRecordUpdate, insertWaitingRecords, recordsCollection, timelineEntry } from '../../db/records';
import { RECORD_STATUSES, type RecordStatus } from '../../domain/types';
import { testDb } from '../helpers/stack';

const N = 240;
const TASK = 'task-counts';

describe('record counts', () => {
  let mongo: Awaited<ReturnType<typeof testDb>>;
  beforeAll(async () => {
    mongo = await testDb('record-counts');
    await ensureAllIndexes(mongo.db);
  });
  afterAll(() => mongo.close());

  it('equal the records after many devices finish at once', async () => {
    const at = new Date();
    const keys = Array.from({ length: N }, (_, i) => `dev-${String(i).padStart(4, '0')}`);
    await insertWaitingRecords(
      mongo.db,
      keys.map((deviceKey) => ({
        taskId: TASK,
        productKey: 'pk',
        deviceKey,
        fromVersion: '1.0.0',
        toVersion: '2.0.0',
        deviceOnline: true,
      })),
      at,
    );
    expect(await recordCountsByStatus(mongo.db, TASK)).toMatchObject({ to_be_pushed: N, success: 0 });

    // Every device moves through upgrading to its end at the same time; counts are read meanwhile.
    const ending = (i: number): RecordStatus => (['success', 'failure', 'success', 'skipped'] as const)[i % 4];
    const finishing = Promise.all(
      keys.map(async (deviceKey, i) => {
        await applyRecordUpdate(mongo.db, { taskId: TASK, deviceKey, status: 'upgrading', timeline: [] });
        await applyRecordUpdate(mongo.db, {
          taskId: TASK,
          deviceKey,
          status: ending(i),
          progress: 100,
          inWorkflow: false,
          timeline: [timelineEntry(ending(i))],
        });
      }),
    );
    let done = false;
    let readsDuring = 0;
    void finishing.finally(() => (done = true));
    while (!done) {
      await recordCountsByStatus(mongo.db, TASK);
      readsDuring += 1;
    }
    await finishing;

    const records = await recordsCollection(mongo.db)
      .find({ taskId: TASK }, { projection: { status: 1 } })
      .toArray();
    const tally = Object.fromEntries(RECORD_STATUSES.map((s) => [s, records.filter((r) => r.status === s).length]));
    expect(records).toHaveLength(N);
    expect(await recordCountsByStatus(mongo.db, TASK)).toEqual(tally);
    expect(tally).toMatchObject({ success: N / 2, failure: N / 4, skipped: N / 4, to_be_pushed: 0, upgrading: 0 });
    expect(readsDuring).toBeGreaterThan(0);
  });
});
