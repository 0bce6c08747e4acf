/**
 * /v1/firmwares: add firmware (unverified until a verification upgrade
 * succeeds), list, read, delete (refused while an active task or
 * verification uses it; its uploaded file goes with it). The file itself is
 * uploaded through firmware-file.ts. The verification endpoints under
 * /v1/firmwares/{firmwareId}/verification belong to the task routes.
 */
import { Router } from 'express';
import type { Db } from 'mongodb';
import { validateFirmwareInput } from '../../domain/validation/registry';
import { deleteFirmwareAndFile } from '../../artifacts/firmware-files';
import type { FirmwareFileStore } from '../../artifacts/store';
import { createFirmware, listFirmware, requireFirmware } from '../../db/firmware';
import { FIRMWARE_LIST_PARAMS, parseQuery } from '../query';

export function firmwareRouter(ctx: { db: Db; store: FirmwareFileStore }): Router {
  const r = Router();

  r.post('/firmwares', async (req, res) => {
    res.status(201).json(await createFirmware(ctx.db, validateFirmwareInput(req.body)));
  });

  r.get('/firmwares', async (req, res) => {
    const q = parseQuery<{ productKey?: string; limit: number; cursor?: string }>(req, FIRMWARE_LIST_PARAMS);
    res.json(await listFirmware(ctx.db, q));
  });

  r.get('/firmwares/:firmwareId', async (req, res) => {
    res.json(await requireFirmware(ctx.db, String(req.params.firmwareId)));
  });

  r.delete('/firmwares/:firmwareId', async (req, res) => {
    await deleteFirmwareAndFile(ctx, String(req.params.firmwareId));
    res.status(204).end();
  });
  return r;
}
