/**
 * What the API shows of tasks and records: lists with keyset pagination, the
 * counts per status, and the waiting reason of a waiting record, derived at
 * read time from the task's state and the device's presence in the registry
 * (so pausing a task or closing a window does not rewrite 100,000 records).
 */
import type { Db, Filter } from 'mongodb';
import { isWindowOpen } from '../domain/schedule';
import type { DeviceUpgradeRecord, TaskStatus, WaitReason } from '../domain/types';
import { isOnline, onlineAmong } from './presence';
import { CURSOR_SEGMENT, decodeListCursor, encodeListCursor, invalidCursor, keysetPage, type Page } from './paging';
import { recordCountsByStatus } from './record-counts';
import { recordId, recordsCollection, type RecordDoc } from './records';
import { tasksCollection, type TaskDoc } from './tasks';

export type RecordView = Omit<DeviceUpgradeRecord, 'waitReason'> & {
  waitReason: WaitReason | 'retry_scheduled' | null;
};

/** `online`: the device's presence now (db/presence.ts); read only for waiting records. */
export function waitReasonOf(
  rec: RecordDoc,
  task: TaskDoc,
  online: boolean,
  now = Date.now(),
): RecordView['waitReason'] {
  if (rec.status !== 'to_be_pushed') return null;
  if (rec.waitReason === 'retry_scheduled') return rec.waitReason;
  if (task.status === 'paused') return 'paused';
  if (task.method === 'push' && !isWindowOpen(task.schedule, now)) return 'window_closed';
  if (!online) return 'offline';
  if (task.stagePhase === 'first') return 'first_stage';
  if (task.method === 'push') return task.rateLimit ? 'rate_limit' : 'concurrency_limit';
  // Upon request a device waits until it asks; this says its last ask found every slot taken.
  return rec.waitReason === 'concurrency_limit' ? 'concurrency_limit' : null;
}

export function recordView(rec: RecordDoc, task: TaskDoc, online: boolean): RecordView {
  return {
    taskId: rec.taskId,
    productKey: rec.productKey,
    deviceKey: rec.deviceKey,
    fromVersion: rec.fromVersion,
    toVersion: rec.toVersion,
    status: rec.status,
    waitReason: waitReasonOf(rec, task, online),
    progress: rec.progress,
    failure: rec.failure,
    skipReason: rec.skipReason ?? null,
    attempts: rec.attempts,
    timeline: rec.timeline,
    createdAt: rec.createdAt.toISOString(),
    updatedAt: rec.updatedAt.toISOString(),
  };
}

export function taskView(task: TaskDoc, counts?: Record<string, number>): Record<string, unknown> {
  const { idempotencyKey: _key, firmware, ...rest } = task;
  return {
    ...rest,
    targetVersion: firmware.version,
    ...(counts ? { counts, total: Object.values(counts).reduce((a, b) => a + b, 0) } : {}),
    createdAt: task.createdAt.toISOString(),
    updatedAt: task.updatedAt.toISOString(),
  };
}

export async function taskWithCounts(db: Db, task: TaskDoc): Promise<Record<string, unknown>> {
  return taskView(task, await recordCountsByStatus(db, task.taskId));
}

/** A task-list cursor: creation time in ms, base 36 (ten digits reach past the year 100,000), and the task id. */
export const TASK_CURSOR_SEGMENTS = ['[0-9a-z]{1,10}', CURSOR_SEGMENT];

export async function listTasks(
  db: Db,
  q: { firmwareId?: string; status?: TaskStatus; limit: number; cursor?: string },
): Promise<Page<Record<string, unknown>>> {
  const filter: Filter<TaskDoc> = {};
  if (q.firmwareId) filter.firmwareId = q.firmwareId;
  if (q.status) filter.status = q.status;
  // Newest first by creation time: task ids order neither across kinds (task-, verify-) nor
  // when derived from an Idempotency-Key.
  const newestFirst = (f: Filter<TaskDoc>, limit: number) =>
    tasksCollection(db)
      .find(f, { projection: { _id: 0 } })
      .sort({ createdAt: -1, taskId: -1 })
      .limit(limit)
      .toArray();
  let docs: TaskDoc[];
  if (q.cursor) {
    const [, taskId] = decodeListCursor(q.cursor, 2);
    // The time is milliseconds in base 36 (TASK_CURSOR_SEGMENTS): any such text is a valid date.
    const createdAt = new Date(parseInt(q.cursor.slice(0, q.cursor.indexOf('.')), 36));
    if (Number.isNaN(createdAt.getTime())) throw invalidCursor();
    // "After the cursor" as two conjunctive filters rather than one $or: the embedded
    // database serves only conjunctions from the (createdAt, taskId) index, with the limit.
    docs = await newestFirst({ ...filter, createdAt, taskId: { $lt: taskId } }, q.limit + 1);
    if (docs.length <= q.limit) {
      docs.push(...(await newestFirst({ ...filter, createdAt: { $lt: createdAt } }, q.limit + 1 - docs.length)));
    }
  } else {
    docs = await newestFirst(filter, q.limit + 1);
  }
  const page = docs.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((t) => taskView(t)),
    nextCursor:
      docs.length > q.limit ? `${last.createdAt.getTime().toString(36)}.${encodeListCursor([last.taskId])}` : null,
  };
}

export async function listRecords(
  db: Db,
  task: TaskDoc,
  q: { status?: string; deviceKey?: string; limit: number; cursor?: string },
): Promise<Page<RecordView>> {
  const conditions: Filter<RecordDoc>[] = [{ taskId: task.taskId }];
  if (q.status) conditions.push({ status: q.status as RecordDoc['status'] });
  // Prefix search on the key, as a range so the (taskId, status, deviceKey) index serves it.
  if (q.deviceKey) conditions.push({ deviceKey: { $gte: q.deviceKey, $lt: `${q.deviceKey}\uffff` } });
  const page = await keysetPage(
    recordsCollection(db),
    { clauses: conditions, keys: ['deviceKey'], projection: { _id: 0 }, limit: q.limit, cursor: q.cursor || undefined },
    (r): RecordDoc => r,
  );
  const waiting = page.items.filter((r) => r.status === 'to_be_pushed').map((r) => r.deviceKey);
  const online = await onlineAmong(db, task.productKey, waiting);
  return { ...page, items: page.items.map((r) => recordView(r, task, online.has(r.deviceKey))) };
}

export async function getRecord(db: Db, task: TaskDoc, deviceKey: string): Promise<RecordView | null> {
  const rec = await recordsCollection(db).findOne(
    { _id: recordId(task.taskId, deviceKey) },
    { projection: { _id: 0 } },
  );
  if (!rec) return null;
  return recordView(rec, task, rec.status === 'to_be_pushed' && (await isOnline(db, task.productKey, deviceKey)));
}
