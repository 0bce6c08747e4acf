/**
 * Starts the workflows of tasks whose creation stopped between writing the
 * task and starting its workflow (Temporal unreachable, or the API killed in
 * between). Runs when the API starts and then periodically; every start is
 * made with the policies of task-start.ts, so running it twice, or alongside
 * a retried create, never gives a task a second run.
 */
import type { Db } from 'mongodb';
import { clearStartPending, pendingStarts } from '../db/pending-task-starts';
import { findTask } from '../db/tasks';
import type { Logger } from '../runtime/log';
import { startTaskWorkflow, type TaskStartDeps } from './task-start';

export interface ReconcilerDeps extends TaskStartDeps {
  db: Db;
  log: Logger;
}

/** Starts what is pending; returns how many tasks it started. Throws (leaving the rest marked) when Temporal is away. */
export async function reconcileTaskStarts(deps: ReconcilerDeps): Promise<number> {
  let started = 0;
  for (const taskId of await pendingStarts(deps.db)) {
    const task = await findTask(deps.db, taskId);
    // Marked, then the create died before writing the task: nothing to start.
    if (task && (await startTaskWorkflow(deps, task)) === 'started') {
      started++;
      deps.log.info('started the workflow of a task created while Temporal was unreachable', { taskId });
    }
    await clearStartPending(deps.db, taskId);
  }
  return started;
}

/** Runs reconcileTaskStarts now and every intervalMs until stopped; failures wait for the next pass. */
export function startTaskReconciler(deps: ReconcilerDeps, intervalMs: number): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const pass = async () => {
    try {
      await reconcileTaskStarts(deps);
    } catch (err) {
      deps.log.warn('could not start pending task workflows yet', { err });
    }
    if (!stopped) timer = setTimeout(() => void pass(), intervalMs);
  };
  void pass();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
