/**
 * The firmware catalog in MongoDB. A version is unique within its product
 * (unique index, so concurrent creations cannot both win), and firmware that
 * an active task or verification uses cannot be deleted.
 */
import { randomBytes } from 'node:crypto';
import type { Collection, Db, Filter } from 'mongodb';
import { conflict, notFound } from '../domain/errors';
import { ACTIVE_TASK_STATUSES, type Firmware } from '../domain/types';
import { isDuplicateKey } from './mongo';
import type { FirmwareInput } from '../domain/validation/registry';
import { keysetPage, type Page } from './paging';

export const FIRMWARES = 'firmwares';
/** Written by the orchestration: `{taskId, kind, firmwareId, status, …}`. Read here for the in-use rule. */
export const TASKS = 'tasks';

/** An uploaded file: where the store keeps it and what it measured. */
export interface FirmwareFileRef {
  fileId: string;
  store: 'gridfs' | 'folder';
  size: number;
  md5: string;
  sha256: string;
  uploadedAt: Date;
}

export type FirmwareDoc = Omit<Firmware, 'createdAt'> & { createdAt: Date; verifiedAt?: Date; file?: FirmwareFileRef };

export const firmwares = (db: Db): Collection<FirmwareDoc> => db.collection<FirmwareDoc>(FIRMWARES);

const PROJECTION = { _id: 0 } as const;

export function toFirmware(doc: FirmwareDoc): Firmware {
  return {
    firmwareId: doc.firmwareId,
    productKey: doc.productKey,
    version: doc.version,
    name: doc.name,
    description: doc.description,
    fileUrl: doc.fileUrl,
    fileSize: doc.fileSize,
    signMethod: doc.signMethod,
    sign: doc.sign,
    verified: doc.verified,
    createdAt: doc.createdAt.toISOString(),
  };
}

export function newFirmwareId(): string {
  return `fw_${randomBytes(10).toString('hex')}`;
}

/** Adds firmware (unverified); 409 when the product already has this version. */
export async function createFirmware(db: Db, input: FirmwareInput): Promise<Firmware> {
  const doc: FirmwareDoc = {
    firmwareId: newFirmwareId(),
    productKey: input.productKey,
    version: input.version,
    name: input.name ?? input.version,
    description: input.description ?? '',
    // Empty until the file is uploaded (a verification refuses firmware without a file).
    fileUrl: input.fileUrl ?? '',
    fileSize: input.fileSize ?? 0,
    signMethod: input.signMethod ?? 'sha256',
    sign: input.sign ?? '',
    verified: false,
    createdAt: new Date(),
  };
  try {
    await firmwares(db).insertOne({ ...doc });
  } catch (err) {
    if (isDuplicateKey(err)) {
      throw conflict(`product ${input.productKey} already has firmware version ${input.version}`, [
        { path: '/version', message: `version "${input.version}" already exists for product "${input.productKey}"` },
      ]);
    }
    throw err;
  }
  return toFirmware(doc);
}

/** The firmware, or null: for callers that turn "unknown" into their own error (e.g. a 400 on task creation). */
export async function getFirmware(db: Db, firmwareId: string): Promise<Firmware | null> {
  const doc = await firmwares(db).findOne({ firmwareId }, { projection: PROJECTION });
  return doc ? toFirmware(doc) : null;
}

export async function requireFirmware(db: Db, firmwareId: string): Promise<Firmware> {
  const fw = await getFirmware(db, firmwareId);
  if (!fw) throw notFound(`firmware ${firmwareId} does not exist`);
  return fw;
}

/** Marks firmware verified (after a successful verification upgrade). Idempotent. */
export async function setFirmwareVerified(db: Db, firmwareId: string): Promise<void> {
  await firmwares(db).updateOne({ firmwareId }, { $set: { verified: true, verifiedAt: new Date() } });
}

/** One page in (productKey, version) order, optionally for one product. */
export async function listFirmware(
  db: Db,
  q: { productKey?: string; limit: number; cursor?: string },
): Promise<Page<Firmware>> {
  const clauses: Filter<FirmwareDoc>[] = [];
  if (q.productKey !== undefined) clauses.push({ productKey: q.productKey });
  return keysetPage(
    firmwares(db),
    { clauses, keys: ['productKey', 'version'], projection: PROJECTION, limit: q.limit, cursor: q.cursor },
    toFirmware,
  );
}

/**
 * Deletes firmware unless an active task or verification uses it (409 naming
 * them). A task created between the check and the delete would find its
 * firmware gone at its own firmware lookup; the window is one round trip.
 */
export async function deleteFirmware(db: Db, firmwareId: string): Promise<FirmwareFileRef | undefined> {
  await requireFirmware(db, firmwareId);
  await refuseIfInUse(db, firmwareId);
  const deleted = await firmwares(db).findOneAndDelete({ firmwareId });
  return deleted?.file;
}

/** 409 naming the active tasks or verifications that use the firmware. */
export async function refuseIfInUse(db: Db, firmwareId: string): Promise<void> {
  const users = await db
    .collection<{ taskId: string; kind: string; firmwareId: string; status: string }>(TASKS)
    .find({ firmwareId, status: { $in: [...ACTIVE_TASK_STATUSES] } }, { projection: { _id: 0, taskId: 1, kind: 1 } })
    .limit(10)
    .toArray();
  if (users.length > 0) {
    const names = users.map((u) => `${u.kind} ${u.taskId}`).join(', ');
    throw conflict(`firmware ${firmwareId} is used by active work: ${names}`, [
      { path: 'params.firmwareId', message: `in use by ${names}; cancel or finish them first` },
    ]);
  }
}

/** The uploaded file of a firmware, for the download endpoint; undefined when none. */
export async function firmwareFile(db: Db, firmwareId: string): Promise<FirmwareFileRef | undefined> {
  const doc = await firmwares(db).findOne({ firmwareId }, { projection: { _id: 0, file: 1 } });
  return doc?.file;
}

/**
 * Points the firmware at a newly stored file and fills the fields devices get
 * from it. Returns the file it replaced (for the caller to remove), or
 * undefined; throws not_found when the firmware was deleted meanwhile.
 */
export async function attachFirmwareFile(
  db: Db,
  firmwareId: string,
  file: FirmwareFileRef,
  offer: Pick<Firmware, 'fileUrl' | 'fileSize' | 'sign' | 'signMethod'>,
): Promise<{ firmware: Firmware; replaced: FirmwareFileRef | undefined }> {
  // No projection: FerretDB does not implement one on findAndModify.
  const before = await firmwares(db).findOneAndUpdate(
    { firmwareId },
    { $set: { file, ...offer } },
    {
      returnDocument: 'before',
    },
  );
  if (!before) throw notFound(`firmware ${firmwareId} does not exist`);
  return { firmware: toFirmware({ ...before, ...offer }), replaced: before.file };
}
