/**
 * /v1/firmwares/{firmwareId}/verification: a verification upgrade on a few
 * named devices, run by the same task and device workflows as a batch task.
 * When every device succeeds the firmware becomes verified; a failure stays
 * visible in the verification's records.
 */
import { Router } from 'express';
import type { Db } from 'mongodb';
import { devices } from '../../db/devices';
import { checkVerificationReferences } from '../../db/task-checks';
import { listRecords, taskWithCounts } from '../../db/task-reads';
import { tasksCollection } from '../../db/tasks';
import { notFound } from '../../domain/errors';
import { refusedByState } from '../../domain/validation/compile';
import { requireFirmware } from '../../db/firmware';
import { validateVerificationRequest } from '../../domain/validation/task';
import type { TaskService } from '../../orchestration/task-service';
import { idempotencyKey } from './idempotency';

export function verificationRouter(ctx: { db: Db; tasks: TaskService }): Router {
  const { db, tasks } = ctx;
  const r = Router();

  r.post('/firmwares/:firmwareId/verification', async (req, res) => {
    const request = validateVerificationRequest(req.body);
    const firmware = await checkVerificationReferences(db, String(req.params.firmwareId), request);
    const found = await devices(db)
      .find({ productKey: firmware.productKey, deviceKey: { $in: request.deviceKeys } })
      .project<{ deviceKey: string; firmwareVersion?: string }>({ deviceKey: 1, firmwareVersion: 1 })
      .toArray();
    const versionOf = new Map(found.map((d) => [d.deviceKey, d.firmwareVersion]));
    const problems = request.deviceKeys.flatMap((deviceKey, i) => {
      const version = versionOf.get(deviceKey);
      if (!version)
        return [{ path: `/deviceKeys/${i}`, message: `device ${deviceKey} has not reported a firmware version yet` }];
      if (version === firmware.version)
        return [{ path: `/deviceKeys/${i}`, message: `device ${deviceKey} already runs ${version}` }];
      return [];
    });
    if (problems.length > 0) throw refusedByState(problems);
    const { task, created } = await tasks.create(
      {
        kind: 'verification',
        name: `Verify ${firmware.productKey} firmware ${firmware.version}`,
        firmwareId: firmware.firmwareId,
        productKey: firmware.productKey,
        firmware,
        sourceVersions: [...new Set(request.deviceKeys.map((k) => versionOf.get(k) as string))],
        strategy: 'snapshot',
        scope: 'target',
        filter: { deviceKeys: request.deviceKeys },
        method: 'push',
        upgradeTimeout: request.upgradeTimeout,
        maxConcurrency: request.deviceKeys.length,
      },
      { kind: 'verify', idempotencyKey: idempotencyKey(req) },
    );
    res
      .status(created ? 202 : 200)
      .json({ verificationId: task.taskId, status: task.status, firmwareId: firmware.firmwareId });
  });

  r.get('/firmwares/:firmwareId/verification', async (req, res) => {
    const firmware = await requireFirmware(db, String(req.params.firmwareId));
    const latest = await tasksCollection(db)
      .find({ firmwareId: firmware.firmwareId, kind: 'verification' }, { projection: { _id: 0 } })
      // By creation time: an id made from an Idempotency-Key is a hash and says nothing about when.
      .sort({ createdAt: -1, taskId: -1 })
      .limit(1)
      .next();
    if (!latest) throw notFound(`firmware ${firmware.firmwareId} has no verification`);
    const task = await taskWithCounts(db, latest);
    const records = await listRecords(db, latest, { limit: 5 });
    res.json({
      verificationId: latest.taskId,
      status: latest.status,
      firmwareId: firmware.firmwareId,
      verified: firmware.verified,
      counts: task.counts,
      devices: records.items,
    });
  });
  return r;
}
