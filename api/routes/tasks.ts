/**
 * /v1/upgrade-tasks: create (validated, firmware checked, written, then its
 * workflow started), list, read with counts, the detail tabs, one record, and
 * control (cancel, pause, resume, retry, cancel one device).
 */
import { Router, type RequestHandler } from 'express';
import type { Db } from 'mongodb';
import { checkTaskReferences } from '../../db/task-checks';
import { getRecord, listRecords, listTasks, taskView, taskWithCounts } from '../../db/task-reads';
import { notFound } from '../../domain/errors';
import type { TaskStatus } from '../../domain/types';
import { validateRetryRequest, validateUpgradeTaskRequest } from '../../domain/validation/task';
import { taskFromRequest, type TaskService } from '../../orchestration/task-service';
import { parseQuery } from '../query';
import { RECORD_LIST_PARAMS, TASK_LIST_PARAMS } from '../task-query';
import { idempotencyKey } from './idempotency';

export function tasksRouter(ctx: { db: Db; tasks: TaskService }): Router {
  const { db, tasks } = ctx;
  const r = Router();

  r.post('/upgrade-tasks', async (req, res) => {
    const request = validateUpgradeTaskRequest(req.body);
    const firmware = await checkTaskReferences(db, request);
    const { task, created } = await tasks.create(taskFromRequest(request, firmware), {
      kind: 'task',
      idempotencyKey: idempotencyKey(req),
    });
    res.status(created ? 201 : 200).json(await taskWithCounts(db, task));
  });

  r.get('/upgrade-tasks', async (req, res) => {
    const q = parseQuery<{ firmwareId?: string; status?: TaskStatus; limit: number; cursor?: string }>(
      req,
      TASK_LIST_PARAMS,
    );
    res.json(await listTasks(db, q));
  });

  r.get('/upgrade-tasks/:taskId', async (req, res) => {
    res.json(await taskWithCounts(db, await tasks.requireTask(String(req.params.taskId))));
  });

  r.get('/upgrade-tasks/:taskId/devices', async (req, res) => {
    const task = await tasks.requireTask(String(req.params.taskId));
    const q = parseQuery<{ status?: string; deviceKey?: string; limit: number; cursor?: string }>(
      req,
      RECORD_LIST_PARAMS,
    );
    res.json(await listRecords(db, task, q));
  });

  r.get('/upgrade-tasks/:taskId/devices/:deviceKey', async (req, res) => {
    const task = await tasks.requireTask(String(req.params.taskId));
    const record = await getRecord(db, task, String(req.params.deviceKey));
    if (!record) throw notFound(`device ${String(req.params.deviceKey)} is not part of upgrade task ${task.taskId}`);
    res.json(record);
  });

  const control =
    (action: 'cancel' | 'pause' | 'resume'): RequestHandler =>
    async (req, res) => {
      const task = await tasks[action](String(req.params.taskId));
      res.status(202).json({ ...taskView(task), requested: action });
    };
  r.post('/upgrade-tasks/:taskId/cancel', control('cancel'));
  r.post('/upgrade-tasks/:taskId/pause', control('pause'));
  r.post('/upgrade-tasks/:taskId/resume', control('resume'));

  r.post('/upgrade-tasks/:taskId/retry', async (req, res) => {
    // No body leaves req.body undefined (retry every failed device); a JSON null is a body, and not a TaskRetry.
    const { deviceKeys } = validateRetryRequest(req.body);
    res.status(202).json({ retried: await tasks.retry(String(req.params.taskId), deviceKeys) });
  });

  r.post('/upgrade-tasks/:taskId/devices/:deviceKey/cancel', async (req, res) => {
    const task = await tasks.cancelDevice(String(req.params.taskId), String(req.params.deviceKey));
    res.status(202).json(await getRecord(db, task, String(req.params.deviceKey)));
  });
  return r;
}
