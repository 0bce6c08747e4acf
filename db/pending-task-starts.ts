/**
 * Tasks whose workflow may not have been started yet. Creating a task marks
 * it here before the task document is written and unmarks it once Temporal
 * has the workflow, so a crash or a Temporal outage in between leaves a mark
 * that the reconciler (orchestration/task-reconciler.ts) acts on. Small: only
 * tasks caught mid-creation are ever here, and each lookup is by `_id`.
 */
import type { Collection, Db } from 'mongodb';

export const PENDING_TASK_STARTS = 'pending_task_starts';

interface PendingStart {
  _id: string;
  markedAt: Date;
}

const pending = (db: Db): Collection<PendingStart> => db.collection<PendingStart>(PENDING_TASK_STARTS);

export async function markStartPending(db: Db, taskId: string): Promise<void> {
  await pending(db).updateOne({ _id: taskId }, { $setOnInsert: { markedAt: new Date() } }, { upsert: true });
}

export async function clearStartPending(db: Db, taskId: string): Promise<void> {
  await pending(db).deleteOne({ _id: taskId });
}

export async function isStartPending(db: Db, taskId: string): Promise<boolean> {
  return (await pending(db).countDocuments({ _id: taskId }, { limit: 1 })) > 0;
}

/** Oldest first, a bounded batch per pass. */
export async function pendingStarts(db: Db, limit = 100): Promise<string[]> {
  const docs = await pending(db)
    .find({}, { sort: { markedAt: 1 }, limit })
    .toArray();
  return docs.map((d) => d._id);
}
