/**
 * The `tasks` collection: one document per upgrade task or verification. The
 * API writes it first, then starts the task workflow (id = task id); the
 * workflow keeps `status` current through an activity. Firmware deletion
 * reads `status` here to know whether the firmware is in use.
 */
import type { Collection, Db } from 'mongodb';
import type { StageState } from '../domain/stages';
import type { FirmwareOffer, TaskKind, TaskStatus, UpgradeTaskRequest } from '../domain/types';

/** The validated request, frozen with what the task needs to run on its own. */
export interface TaskDoc extends Omit<UpgradeTaskRequest, 'name'> {
  taskId: string;
  workflowId: string;
  kind: TaskKind;
  name: string;
  productKey: string;
  /** The firmware as devices receive it, frozen at creation. */
  firmware: FirmwareOffer;
  status: TaskStatus;
  /** Why a paused task is paused (an operator, or auto-pause); null otherwise. */
  pauseReason?: string | null;
  /** A staged task's phase (written by its workflow). */
  stagePhase?: StageState['phase'];
  /** Set when the client sent an Idempotency-Key: a retried request finds this task. */
  idempotencyKey?: string;
  createdAt: Date;
  updatedAt: Date;
}

export const tasksCollection = (db: Db): Collection<TaskDoc> => db.collection<TaskDoc>('tasks');

export async function ensureTaskIndexes(db: Db): Promise<void> {
  const tasks = tasksCollection(db);
  await tasks.createIndex({ taskId: 1 }, { unique: true });
  await tasks.createIndex({ productKey: 1, strategy: 1, status: 1 });
  await tasks.createIndex({ firmwareId: 1, status: 1 });
  await tasks.createIndex({ createdAt: -1, taskId: -1 });
}

export async function findTask(db: Db, taskId: string): Promise<TaskDoc | null> {
  return tasksCollection(db).findOne({ taskId }, { projection: { _id: 0 } });
}

export async function setTaskStatus(db: Db, taskId: string, status: TaskStatus, pauseReason?: string): Promise<void> {
  await tasksCollection(db).updateOne(
    { taskId },
    { $set: { status, pauseReason: status === 'paused' ? (pauseReason ?? null) : null, updatedAt: new Date() } },
  );
}

export async function setTaskStagePhase(db: Db, taskId: string, stagePhase: StageState['phase']): Promise<void> {
  await tasksCollection(db).updateOne({ taskId }, { $set: { stagePhase, updatedAt: new Date() } });
}

/** Running tasks of a product that admit devices later (increment), optionally only one method. */
export async function activeIncrementTasks(db: Db, productKey: string): Promise<TaskDoc[]> {
  return tasksCollection(db)
    .find(
      { productKey, strategy: 'increment', status: { $in: ['waiting', 'running', 'paused'] } },
      { projection: { _id: 0 } },
    )
    .toArray();
}

/** Active request-method tasks of a product: the ones a device's getversion may be offered by. */
export async function activeRequestTasks(db: Db, productKey: string): Promise<TaskDoc[]> {
  return tasksCollection(db)
    .find(
      { productKey, method: 'request', status: { $in: ['waiting', 'running', 'paused'] } },
      { projection: { _id: 0 }, sort: { createdAt: 1 } },
    )
    .toArray();
}

/** Ids of the product's tasks that are not finished (small: a handful per product). */
export async function activeTaskIds(db: Db, productKey: string): Promise<string[]> {
  const tasks = await tasksCollection(db)
    .find({ productKey, status: { $in: ['waiting', 'running', 'paused'] } }, { projection: { taskId: 1 } })
    .toArray();
  return tasks.map((t) => t.taskId);
}
