/**
 * A task's record counts per status, as one `count` per status: a filter on
 * (taskId, status) is counted from the index on a real MongoDB (COUNT_SCAN)
 * and as SQL COUNT(*) on the index by the embedded database, where an
 * aggregation would decode every record of the task.
 */
import type { Db } from 'mongodb';
import { RECORD_STATUSES, type RecordStatus } from '../domain/types';

/** How many records of the task match `query` (the count command: no cursor, no decoding). */
export async function countRecords(db: Db, query: Record<string, unknown>): Promise<number> {
  const res = await db.command({ count: 'records', query });
  return Number(res.n);
}

export async function recordCountsByStatus(db: Db, taskId: string): Promise<Record<RecordStatus, number>> {
  const counts = await Promise.all(RECORD_STATUSES.map((status) => countRecords(db, { taskId, status })));
  return Object.fromEntries(RECORD_STATUSES.map((status, i) => [status, counts[i]])) as Record<RecordStatus, number>;
}
