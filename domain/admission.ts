/**
 * The admission rule: whether a device waits in a task, or may join it, given
 * its record there (if any). One rule for every way a device reaches a task:
 * the task's first scan, an increment task's rescans, a version the device
 * reports, and a device asking for firmware. Pure; db/admission.ts applies it.
 */
import type { RecordStatus, Strategy } from './types';

export interface AdmissionRecord {
  status: RecordStatus;
  inWorkflow: boolean;
  updatedAt: Date;
}

/**
 * - `waiting`: the device already waits in the task;
 * - `offered`: a device workflow holds an open offer for it (asking again, after a lost reply, hears it again);
 * - `joins`: it may join (a new record) or rejoin (a skipped or succeeded record whose device
 *   reported a source version since: a busy device that is free now, a device that went back);
 * - `closed`: neither (failed devices wait for the task's retry policy or an operator's retry,
 *   or a device would be pushed again at every reconnect).
 */
export type Admission = 'waiting' | 'offered' | 'joins' | 'closed';

export function admissionOf(
  rec: AdmissionRecord | null,
  /** `preparing`: the task's first scan, the only time a snapshot task admits. */
  task: { strategy: Strategy; preparing?: boolean },
  /** When the device reported the version it is admitted on (absent: it did not report one now). */
  reportedAt?: Date,
): Admission {
  if (rec?.status === 'to_be_pushed') return 'waiting';
  if (rec?.status === 'pushed' && rec.inWorkflow && !reportedAt) return 'offered';
  if (task.strategy !== 'increment' && !task.preparing) return 'closed';
  if (!rec) return 'joins';
  if (rec.inWorkflow || !reportedAt) return 'closed';
  return (rec.status === 'skipped' || rec.status === 'success') && rec.updatedAt < reportedAt ? 'joins' : 'closed';
}
