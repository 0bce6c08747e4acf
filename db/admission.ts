/**
 * Admission applied: the one place where a device gets a waiting record in a
 * task, or gets one back (domain/admission.ts decides). Called only by the
 * worker's activities: the task workflow's scans and reported devices, and the
 * device workflow's claim when a device asks an increment task for firmware.
 */
import type { Db } from 'mongodb';
import { admissionOf } from '../domain/admission';
import type { Strategy } from '../domain/types';
import { insertWaitingRecords, recordId, recordsCollection, rejoinRecord } from './records';

export interface AdmittingTask {
  taskId: string;
  productKey: string;
  strategy: Strategy;
  toVersion: string;
}

/** A device that qualifies for the task (its scope already checked) on `version`. */
export interface Candidate {
  deviceKey: string;
  version: string | null;
  /** When the device reported `version`; a finished record rejoins only after such a report. */
  reportedAt?: Date;
}

/**
 * Gives each candidate that may join a waiting record; returns how many now
 * wait anew. Idempotent: a retried call finds the records it wrote waiting.
 * Records are read and written by `_id` alone (FerretDB's only index); the
 * read-then-write is not atomic, and needs not be: records without a device
 * workflow change only in the worker, through the task's own activities.
 */
export async function admit(
  db: Db,
  task: AdmittingTask & { preparing?: boolean },
  candidates: readonly Candidate[],
  now = new Date(),
): Promise<number> {
  if (candidates.length === 0 || admissionOf(null, task) !== 'joins') return 0;
  // New devices: an upsert per device leaves existing records alone (a retried batch writes nothing twice).
  let admitted = await insertWaitingRecords(
    db,
    candidates.map((c) => ({
      taskId: task.taskId,
      productKey: task.productKey,
      deviceKey: c.deviceKey,
      fromVersion: c.version,
      toVersion: task.toVersion,
    })),
    now,
  );
  // Finished records of devices that reported a version since.
  for (const c of candidates) {
    if (!c.reportedAt) continue;
    const rec = await recordsCollection(db).findOne(
      { _id: recordId(task.taskId, c.deviceKey) },
      { projection: { status: 1, inWorkflow: 1, updatedAt: 1 } },
    );
    if (!rec || admissionOf(rec, task, c.reportedAt) !== 'joins') continue;
    if (await rejoinRecord(db, task.taskId, c.deviceKey, c.version, now)) admitted += 1;
  }
  return admitted;
}
