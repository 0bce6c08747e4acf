/**
 * The `records` collection: one document per (task, device), the source of
 * truth for the detail tabs and counts. Besides the public record fields it
 * keeps one working field, `inWorkflow`: true while a device workflow owns the
 * record, so the task never claims a device twice.
 *
 * Only the worker writes here, through the activities of the workflow that
 * owns the record: the task workflow while the record waits unowned, the
 * device workflow while `inWorkflow` is true (docs/architecture.md). A
 * device's presence is not copied here: it is read from the registry
 * (db/presence.ts).
 */
import type { Collection, Db, Filter } from 'mongodb';
import type { RecordUpdate } from '../domain/rollout';
import { onlineAmong } from './presence';
import type { DeviceUpgradeRecord, RecordStatus, TimelineEntry } from '../domain/types';

/**
 * A record's `_id` is derived from (task, device): FerretDB 1.24 on SQLite
 * answers `_id` lookups without reading the whole collection, and every
 * device upgrade writes its record several times.
 */
export function recordId(taskId: string, deviceKey: string): string {
  return `${taskId}\u001f${deviceKey}`;
}

export interface RecordDoc extends Omit<DeviceUpgradeRecord, 'createdAt' | 'updatedAt' | 'waitReason'> {
  _id?: string;
  waitReason: DeviceUpgradeRecord['waitReason'] | 'retry_scheduled';
  inWorkflow: boolean;
  /** The device workflow run that last took the record (it may take it again: takeOwnRecord). */
  claimedBy?: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Records that still need something to happen. */
export const OPEN_STATUSES: readonly RecordStatus[] = ['to_be_pushed', 'pushed', 'upgrading'];
/** Waiting records whose presence is looked up at once while claiming. */
const PRESENCE_BATCH = 128;
/** How many timeline entries a record keeps (the newest). */
export const TIMELINE_LIMIT = 50;

/** The `$push` that appends to a record's timeline, keeping its last TIMELINE_LIMIT entries. */
export function appendTimeline(...entries: TimelineEntry[]) {
  return { timeline: { $each: entries, $slice: -TIMELINE_LIMIT } };
}

export const recordsCollection = (db: Db): Collection<RecordDoc> => db.collection<RecordDoc>('records');

export async function ensureRecordIndexes(db: Db): Promise<void> {
  const records = recordsCollection(db);
  await records.createIndex({ taskId: 1, deviceKey: 1 }, { unique: true });
  await records.createIndex({ taskId: 1, status: 1, deviceKey: 1 });
  await records.createIndex({ taskId: 1, status: 1, inWorkflow: 1, deviceKey: 1 });
  await records.createIndex({ productKey: 1, deviceKey: 1, status: 1 });
}

export interface NewRecord {
  taskId: string;
  productKey: string;
  deviceKey: string;
  fromVersion: string | null;
  toVersion: string;
}

/**
 * Inserts waiting records; devices that already have one in this task are
 * left alone (unique index), so a retried batch writes nothing twice.
 * Returns how many were new.
 */
export async function insertWaitingRecords(db: Db, batch: NewRecord[], at: Date): Promise<number> {
  if (batch.length === 0) return 0;
  const ops = batch.map((r) => ({
    updateOne: {
      filter: { _id: recordId(r.taskId, r.deviceKey) },
      update: {
        $setOnInsert: {
          ...r,
          status: 'to_be_pushed' as RecordStatus,
          waitReason: null,
          progress: 0,
          failure: null,
          skipReason: null,
          attempts: 0,
          inWorkflow: false,
          timeline: [{ at: at.toISOString(), event: 'joined', detail: `on version ${r.fromVersion ?? 'unknown'}` }],
          createdAt: at,
          updatedAt: at,
        },
      },
      upsert: true,
    },
  }));
  const result = await recordsCollection(db).bulkWrite(ops, { ordered: false });
  return result.upsertedCount;
}

export async function applyRecordUpdate(db: Db, update: RecordUpdate, at = new Date()): Promise<void> {
  const { taskId, deviceKey, timeline, ...fields } = update;
  const set: Record<string, unknown> = { updatedAt: at };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) set[k] = v;
  await recordsCollection(db).updateOne(
    { _id: recordId(taskId, deviceKey) },
    {
      $set: set,
      ...(timeline.length ? { $push: appendTimeline(...timeline) } : {}),
    },
  );
}

/**
 * Up to `limit` waiting records that no device workflow owns and whose device
 * is online now (the registry says so, db/presence.ts), in deviceKey order
 * from just after `after`. `exhausted`: every such record up to the last key
 * was looked at; `lastKey`: the last record looked at, where the next claim
 * reads on.
 *
 * Why a cursor: a device workflow marks its record as owned only when its
 * claim runs, which on a busy worker is a while after the start. Read from the
 * first key each time, the next claim met those records first and spent its
 * starts on workflows already running, claim after claim until the workflows
 * caught up. The task reads from the first key again when something can have
 * made a record behind the cursor pushable (workflows/task-state.ts).
 */
export async function pushableRecords(
  db: Db,
  task: { taskId: string; productKey: string },
  limit: number,
  after: string | null = null,
): Promise<{ deviceKeys: string[]; exhausted: boolean; lastKey: string | null }> {
  const deviceKeys: string[] = [];
  let lastKey = after;
  if (limit <= 0) return { deviceKeys, exhausted: false, lastKey };
  // Pages by key, each one query the index serves with its sort and limit (a sort without a limit is not pushed).
  for (;;) {
    const page = await recordsCollection(db)
      .find(
        {
          taskId: task.taskId,
          status: 'to_be_pushed',
          inWorkflow: false,
          ...(lastKey !== null && { deviceKey: { $gt: lastKey } }),
        },
        { projection: { _id: 0, deviceKey: 1 } },
      )
      .sort({ deviceKey: 1 })
      .limit(PRESENCE_BATCH)
      .toArray();
    const keys = page.map((r) => r.deviceKey);
    const online = await onlineAmong(db, task.productKey, keys);
    for (const key of keys) {
      lastKey = key;
      if (online.has(key)) deviceKeys.push(key);
      if (deviceKeys.length >= limit) return { deviceKeys, exhausted: false, lastKey };
    }
    if (keys.length < PRESENCE_BATCH) return { deviceKeys, exhausted: true, lastKey };
  }
}

export async function countOpenRecords(db: Db, taskId: string): Promise<number> {
  return recordsCollection(db).countDocuments({ taskId, status: { $in: [...OPEN_STATUSES] } });
}

export async function countsByStatus(db: Db, taskId: string): Promise<Record<RecordStatus, number>> {
  const rows = await recordsCollection(db)
    .aggregate<{ _id: RecordStatus; n: number }>([
      { $match: { taskId } },
      { $group: { _id: '$status', n: { $sum: 1 } } },
    ])
    .toArray();
  const counts: Record<RecordStatus, number> = {
    to_be_pushed: 0,
    pushed: 0,
    upgrading: 0,
    success: 0,
    failure: 0,
    skipped: 0,
    cancelled: 0,
  };
  for (const row of rows) if (row._id in counts) counts[row._id] = row.n;
  return counts;
}

/** The tasks among `taskIds` in which the device waits to be pushed; read by `_id` alone (FerretDB's only index). */
export async function tasksWaitingFor(db: Db, taskIds: readonly string[], deviceKey: string): Promise<string[]> {
  const waitingIn: string[] = [];
  for (const taskId of taskIds) {
    const rec = await recordsCollection(db).findOne(
      { _id: recordId(taskId, deviceKey) },
      { projection: { status: 1 } },
    );
    if (rec?.status === 'to_be_pushed') waitingIn.push(taskId);
  }
  return waitingIn;
}

/**
 * An operator's retry: the task's failed records that no workflow owns (all, or the named ones)
 * wait to be pushed again. Returns how many do.
 */
export async function requeueFailedRecords(db: Db, taskId: string, deviceKeys?: string[]): Promise<number> {
  const now = new Date();
  const res = await recordsCollection(db).updateMany(
    { taskId, status: 'failure', inWorkflow: false, ...(deviceKeys ? { deviceKey: { $in: deviceKeys } } : {}) },
    {
      $set: { status: 'to_be_pushed', waitReason: null, failure: null, progress: 0, updatedAt: now },
      $push: appendTimeline(timelineEntry('retry requested', 'by an operator', now)),
    },
  );
  return res.modifiedCount;
}

/**
 * Closes waiting records that no workflow owns as cancelled: the task's, or one device's.
 * Returns how many were closed.
 */
export async function cancelWaitingRecords(
  db: Db,
  taskId: string,
  reason: string,
  deviceKey?: string,
): Promise<number> {
  const now = new Date();
  const res = await recordsCollection(db).updateMany(
    { ...(deviceKey ? { _id: recordId(taskId, deviceKey) } : { taskId }), status: 'to_be_pushed', inWorkflow: false },
    {
      $set: { status: 'cancelled', waitReason: null, updatedAt: now },
      $push: appendTimeline(timelineEntry('cancelled', reason, now)),
    },
  );
  return res.modifiedCount;
}

/**
 * Skips a waiting record whose device another task is upgrading. Only a record that still waits
 * and no workflow of this task owns: one its own workflow has decided meanwhile keeps its status.
 * True when the record was skipped.
 */
export async function skipBusyRecord(db: Db, taskId: string, deviceKey: string, reason: string): Promise<boolean> {
  const now = new Date();
  const res = await recordsCollection(db).updateOne(
    { _id: recordId(taskId, deviceKey), status: 'to_be_pushed', inWorkflow: false },
    {
      $set: { status: 'skipped', skipReason: reason, waitReason: null, updatedAt: now },
      $push: appendTimeline(timelineEntry('skipped', reason, now)),
    },
  );
  return res.modifiedCount === 1;
}

/**
 * A device workflow takes a waiting record over (the task starts no second one for it), in one
 * command; null when the record is not waiting, or absent.
 */
export function takeWaitingRecord(db: Db, taskId: string, deviceKey: string, runId: string) {
  return takeRecord(db, { _id: recordId(taskId, deviceKey), status: 'to_be_pushed' }, runId);
}

/**
 * The record this run took before, in whatever state its steps since left it: a device workflow
 * claims, pushes and writes `pushed` within one workflow task, and when its worker dies before
 * that task completes, the task runs again from the claim.
 */
export function takeOwnRecord(db: Db, taskId: string, deviceKey: string, runId: string) {
  return takeRecord(db, { _id: recordId(taskId, deviceKey), claimedBy: runId }, runId);
}

function takeRecord(db: Db, filter: Filter<RecordDoc>, runId: string): Promise<RecordDoc | null> {
  return recordsCollection(db).findOneAndUpdate(
    filter,
    { $set: { inWorkflow: true, claimedBy: runId, updatedAt: new Date() } },
    { returnDocument: 'after' },
  );
}

/** A finished record waits again because its device reported a source version (db/admission.ts decides). */
export async function rejoinRecord(
  db: Db,
  taskId: string,
  deviceKey: string,
  version: string | null,
  now: Date,
): Promise<boolean> {
  const res = await recordsCollection(db).updateOne(
    { _id: recordId(taskId, deviceKey) },
    {
      $set: {
        status: 'to_be_pushed',
        waitReason: null,
        failure: null,
        skipReason: null,
        progress: 0,
        fromVersion: version,
        updatedAt: now,
      },
      $push: appendTimeline(timelineEntry('rejoined', `reported source version ${version}`, now)),
    },
  );
  return res.modifiedCount > 0;
}

export function timelineEntry(event: string, detail?: string, at = new Date()): TimelineEntry {
  return { at: at.toISOString(), event, ...(detail ? { detail } : {}) };
}
