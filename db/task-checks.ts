/**
 * The task-creation rules that need stored data, in one call for the
 * task-creation route: the firmware (exists, verified, not a source version)
 * and the asset trees (exist, nodes exist, selectable depth).
 */
import type { Db } from 'mongodb';
import { treeSelectionProblems } from '../domain/scope';
import type { Firmware, UpgradeTaskRequest } from '../domain/types';
import { refusedByState } from '../domain/validation/compile';
import { checkTaskAgainstFirmware, type VerificationRequest } from '../domain/validation/task';
import { loadAssetTrees } from './asset-trees';
import { existingDeviceKeys } from './devices';
import { getFirmware, requireFirmware } from './firmware';

/**
 * Throws conflict (409, with paths into the request) when the request
 * names unknown or unverified firmware or an unusable asset-tree selection.
 * Returns the firmware, whose productKey is the task's product.
 */
export async function checkTaskReferences(db: Db, req: UpgradeTaskRequest): Promise<Firmware> {
  const firmware = await getFirmware(db, req.firmwareId);
  checkTaskAgainstFirmware(req, firmware);
  const selections = req.filter?.assetTrees ?? [];
  if (selections.length > 0) {
    const trees = await loadAssetTrees(
      db,
      selections.map((s) => s.treeId),
    );
    const problems = treeSelectionProblems(selections, trees);
    if (problems.length > 0) throw refusedByState(problems);
  }
  return firmware as Firmware;
}

/**
 * Verification rules that need stored data: the firmware must exist (404, it
 * is named in the path) and every listed device must be registered in the
 * firmware's product (409 at its index). Returns the firmware.
 */
export async function checkVerificationReferences(
  db: Db,
  firmwareId: string,
  req: VerificationRequest,
): Promise<Firmware> {
  const firmware = await requireFirmware(db, firmwareId);
  if (firmware.fileUrl === '') {
    // Well-formed, but the stored firmware cannot be sent to a device yet: a state refusal.
    throw refusedByState([
      {
        path: 'params.firmwareId',
        message: `firmware ${firmwareId} has no file yet: upload it first (PUT /v1/firmwares/${firmwareId}/file)`,
      },
    ]);
  }
  const known = await existingDeviceKeys(db, firmware.productKey, req.deviceKeys);
  const problems = req.deviceKeys.flatMap((deviceKey, i) =>
    known.has(deviceKey)
      ? []
      : [{ path: `/deviceKeys/${i}`, message: `device ${firmware.productKey}/${deviceKey} is not registered` }],
  );
  if (problems.length > 0) throw refusedByState(problems);
  return firmware;
}
