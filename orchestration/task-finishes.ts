/**
 * Telling a task workflow that its devices finished, many in one signal.
 * Every device's last activity tells its task; one signal each made a
 * history event and, mostly, a workflow task per device in the task's
 * history. Here the finishes of one task that arrive while a signal to it is
 * on its way wait and go together in the next one: no timer, so a lone finish
 * goes at once, and under load the batches grow by themselves.
 *
 * Each caller's promise settles with the signal that carried its finish: an
 * activity completes only once its task has heard it. When a signal fails,
 * each of its callers fails and is retried as an activity; the task counts a
 * (device, attempt) once however often it hears of it.
 */
import type { Client } from '@temporalio/client';
import { taskWorkflowId } from '../domain/ids';
import { devicesFinished, type FinishedDevice } from '../workflows/messages';
import { signalIfRunning } from './signal-if-running';

/** A signal's payload stays far below Temporal's 2 MB limit: at most this many finishes in one. */
const MAX_BATCH = 500;

interface Waiting {
  finish: FinishedDevice;
  settle: (err?: unknown) => void;
}

export type TellFinished = (taskId: string, finish: FinishedDevice) => Promise<void>;

export function taskFinishes(client: Client): TellFinished {
  const queued = new Map<string, Waiting[]>();
  const sending = new Set<string>();

  const send = async (taskId: string): Promise<void> => {
    sending.add(taskId);
    try {
      for (;;) {
        const waiting = queued.get(taskId) ?? [];
        if (waiting.length === 0) return;
        const batch = waiting.splice(0, MAX_BATCH);
        try {
          // A closed task (cancelled or completed) needs no telling: each record says how its device ended.
          await signalIfRunning(client.workflow.getHandle(taskWorkflowId(taskId)), devicesFinished, {
            finishes: batch.map((w) => w.finish),
          });
          for (const w of batch) w.settle();
        } catch (err) {
          for (const w of batch) w.settle(err);
        }
      }
    } finally {
      sending.delete(taskId);
      queued.delete(taskId);
    }
  };

  return (taskId, finish) =>
    new Promise<void>((resolve, reject) => {
      const waiting = queued.get(taskId) ?? [];
      queued.set(taskId, waiting);
      waiting.push({ finish, settle: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!sending.has(taskId)) void send(taskId);
    });
}
