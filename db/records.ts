/**
 * The `records` collection: one document per (task, device), the source of
 * truth for the detail tabs and counts. Besides the public record fields it
 * keeps two working fields:
 * - `deviceOnline`, kept current for waiting records by the gateway, so the
 *   task can claim "waiting and online" devices with one indexed query;
 * - `inWorkflow`, true while a device workflow owns the record, so the task
 *   never claims a device twice.
 */
import type { Collection, Db } from 'mongodb';
import type { RecordUpdate } from '../activities/contracts';
import type { DeviceUpgradeRecord, RecordStatus, TimelineEntry, WaitReason } from '../domain/types';

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
  deviceOnline: boolean;
  inWorkflow: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** Records that still need something to happen. */
export const OPEN_STATUSES: readonly RecordStatus[] = ['to_be_pushed', 'pushed', 'upgrading'];
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
  await records.createIndex({ taskId: 1, status: 1, deviceOnline: 1, inWorkflow: 1, deviceKey: 1 });
  await records.createIndex({ productKey: 1, deviceKey: 1, status: 1 });
}

export interface NewRecord {
  taskId: string;
  productKey: string;
  deviceKey: string;
  fromVersion: string | null;
  toVersion: string;
  deviceOnline: boolean;
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
 * Waiting records whose device is online and that no device workflow owns.
 * Unsorted on purpose: the order does not matter, and FerretDB stops reading
 * at `limit` only when it need not sort.
 */
export async function pushableRecords(db: Db, taskId: string, limit: number): Promise<RecordDoc[]> {
  return recordsCollection(db)
    .find({ taskId, status: 'to_be_pushed', deviceOnline: true, inWorkflow: false }, { limit, projection: { _id: 0 } })
    .toArray();
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

/**
 * The gateway's presence change, applied to the device's waiting record in
 * each given task; returns the tasks where the device is waiting. Reads and
 * writes address the record by `_id` alone: FerretDB answers only such
 * filters from an index (any other field reads the whole collection).
 */
export async function markWaitingRecordsPresence(
  db: Db,
  taskIds: readonly string[],
  deviceKey: string,
  online: boolean,
): Promise<string[]> {
  const waitingIn: string[] = [];
  for (const taskId of taskIds) {
    const _id = recordId(taskId, deviceKey);
    const rec = await recordsCollection(db).findOne({ _id }, { projection: { status: 1, deviceOnline: 1 } });
    if (rec?.status !== 'to_be_pushed') continue;
    // Claimed in between: the flag is then merely current on a pushed record, which nothing misreads.
    if (rec.deviceOnline !== online) await recordsCollection(db).updateOne({ _id }, { $set: { deviceOnline: online } });
    waitingIn.push(taskId);
  }
  return waitingIn;
}

/** A waiting record that no workflow owns says why it still waits; read, then written, by `_id` alone. */
export async function noteWaitReason(db: Db, taskId: string, deviceKey: string, waitReason: WaitReason): Promise<void> {
  const _id = recordId(taskId, deviceKey);
  const rec = await recordsCollection(db).findOne({ _id }, { projection: { status: 1, inWorkflow: 1, waitReason: 1 } });
  if (rec?.status !== 'to_be_pushed' || rec.inWorkflow || rec.waitReason === waitReason) return;
  await recordsCollection(db).updateOne({ _id }, { $set: { waitReason } });
}

/**
 * Puts a finished record back to waiting because the device reported a
 * source version again (SPEC behaviour 1). `qualifies` narrows which finished
 * records do (status, and for rescans "finished before the report").
 * Returns whether the record was re-admitted.
 *
 * Read, checked, then written by `_id` alone, because FerretDB reads the whole
 * collection for any other filter. The check is not atomic with the write
 * (FerretDB's conditional updates are not either); what it guards, a finished
 * record that no workflow owns, changes only through this function or an
 * operator's retry, and both put it back to waiting.
 */
export async function readmitRecord(
  db: Db,
  taskId: string,
  deviceKey: string,
  qualifies: (rec: RecordDoc) => boolean,
  device: { version: string | null; online: boolean },
  now = new Date(),
): Promise<boolean> {
  const _id = recordId(taskId, deviceKey);
  const rec = await recordsCollection(db).findOne({ _id });
  if (!rec || rec.inWorkflow || !qualifies(rec)) return false;
  const res = await recordsCollection(db).updateOne(
    { _id },
    {
      $set: {
        status: 'to_be_pushed',
        waitReason: null,
        failure: null,
        skipReason: null,
        progress: 0,
        fromVersion: device.version,
        deviceOnline: device.online,
        inWorkflow: false,
        updatedAt: now,
      },
      $push: appendTimeline(timelineEntry('rejoined', `reported source version ${device.version}`, now)),
    },
  );
  return res.modifiedCount > 0;
}

/**
 * Waiting records marked offline whose device the registry shows online: the
 * gateway's presence event can come before the record exists, and the
 * registry's write after it was read. Flips up to `limit` of them; returns how many.
 */
export async function reconcileOffline(db: Db, taskId: string, productKey: string, limit: number): Promise<number> {
  const waiting = await recordsCollection(db)
    .find(
      { taskId, status: 'to_be_pushed', deviceOnline: false, inWorkflow: false },
      { limit, projection: { deviceKey: 1 } },
    )
    .toArray();
  if (waiting.length === 0) return 0;
  const online = await db
    .collection<{ deviceKey: string }>('devices')
    .find(
      { productKey, deviceKey: { $in: waiting.map((r) => r.deviceKey) }, online: true },
      { projection: { deviceKey: 1 } },
    )
    .toArray();
  let flipped = 0;
  for (const { deviceKey } of online) {
    // By `_id` alone (see markWaitingRecordsPresence); the query above chose waiting, offline records.
    const res = await recordsCollection(db).updateOne(
      { _id: recordId(taskId, deviceKey) },
      { $set: { deviceOnline: true } },
    );
    flipped += res.modifiedCount;
  }
  return flipped;
}

export function timelineEntry(event: string, detail?: string, at = new Date()): TimelineEntry {
  return { at: at.toISOString(), event, ...(detail ? { detail } : {}) };
}
