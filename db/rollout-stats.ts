/**
 * Fleet-wide figures for the API's /metrics: tasks by status, and the devices
 * of active tasks by record status. Read at scrape time, so they are as fresh
 * as the scrape interval.
 */
import type { Db } from 'mongodb';
import { ACTIVE_TASK_STATUSES, RECORD_STATUSES, type RecordStatus, type TaskStatus } from '../domain/types';
import { recordsCollection } from './records';
import { tasksCollection } from './tasks';

const TASK_STATUSES: readonly TaskStatus[] = ['waiting', 'running', 'paused', 'completed', 'cancelled'];

async function countBy(rows: Promise<Array<{ _id: string; n: number }>>, keys: readonly string[]) {
  const counts = Object.fromEntries(keys.map((k) => [k, 0])) as Record<string, number>;
  for (const row of await rows) if (row._id in counts) counts[row._id] = row.n;
  return counts;
}

export function tasksByStatus(db: Db): Promise<Record<TaskStatus, number>> {
  const rows = tasksCollection(db)
    .aggregate<{ _id: string; n: number }>([{ $group: { _id: '$status', n: { $sum: 1 } } }])
    .toArray();
  return countBy(rows, TASK_STATUSES) as Promise<Record<TaskStatus, number>>;
}

/** Devices of waiting, running and paused tasks by record status (a device in two such tasks counts twice). */
export async function activeRolloutDevicesByStatus(db: Db): Promise<Record<RecordStatus, number>> {
  const active = await tasksCollection(db)
    .find({ status: { $in: [...ACTIVE_TASK_STATUSES] } }, { projection: { _id: 0, taskId: 1 } })
    .toArray();
  const rows =
    active.length === 0
      ? Promise.resolve([])
      : recordsCollection(db)
          .aggregate<{ _id: string; n: number }>([
            { $match: { taskId: { $in: active.map((t) => t.taskId) } } },
            { $group: { _id: '$status', n: { $sum: 1 } } },
          ])
          .toArray();
  return countBy(rows, RECORD_STATUSES) as Promise<Record<RecordStatus, number>>;
}
