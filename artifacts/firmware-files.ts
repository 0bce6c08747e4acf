/**
 * The firmware-file use cases, between the HTTP routes and the store:
 * upload (measure, check the client's sign, attach, drop the replaced file)
 * and delete (the record, then its file). The rules that need no I/O are in
 * uploadRules().
 */
import type { Readable } from 'node:stream';
import type { Db } from 'mongodb';
import { conflict, invalid, unprocessable } from '../domain/errors';
import type { Firmware, SignMethod } from '../domain/types';
import { attachFirmwareFile, deleteFirmware, refuseIfInUse, requireFirmware } from '../db/firmware';
import { downloadUrl } from './signed-url';
import type { FirmwareFileStore, StoredFile } from './store';

export interface FirmwareFilesDeps {
  db: Db;
  store: FirmwareFileStore;
  maxBytes: number;
  downloadBaseUrl: string;
}

/** What the uploader may claim about the file: the digest it expects, and which digest it is. */
export interface UploadClaim {
  sign?: string;
  signMethod?: SignMethod;
}

const SIGN_LENGTH: Record<SignMethod, number> = { md5: 32, sha256: 64 };

/** The claim from the query string: 400 on a malformed sign or method. */
export function parseUploadClaim(query: Record<string, unknown>): UploadClaim {
  const claim: UploadClaim = {};
  const { sign, signMethod } = query;
  if (signMethod !== undefined) {
    if (signMethod !== 'md5' && signMethod !== 'sha256') {
      throw invalid('signMethod must be md5 or sha256', [
        { path: 'query.signMethod', message: 'must be md5 or sha256' },
      ]);
    }
    claim.signMethod = signMethod;
  }
  if (sign !== undefined) {
    const method = claim.signMethod ?? (typeof sign === 'string' && sign.length === 32 ? 'md5' : 'sha256');
    if (typeof sign !== 'string' || !/^([0-9A-Fa-f]{32}){1,2}$/.test(sign)) {
      throw invalid('sign must be an md5 or sha256 hex digest', [
        { path: 'query.sign', message: 'must be 32 or 64 hex digits' },
      ]);
    }
    if (sign.length !== SIGN_LENGTH[method]) {
      // Well-formed, but the two parameters disagree with each other.
      throw unprocessable(`sign must be a ${method} hex digest`, [
        { path: 'query.sign', message: `must be ${SIGN_LENGTH[method]} hex digits (${method})` },
      ]);
    }
    claim.sign = sign.toLowerCase();
    claim.signMethod = method;
  }
  return claim;
}

/** The sign devices will check, or the reason the upload is refused. */
export function uploadRules(
  stored: Pick<StoredFile, 'size' | 'md5' | 'sha256'>,
  claim: UploadClaim,
  current: SignMethod,
): { sign: string; signMethod: SignMethod } {
  if (stored.size === 0) throw invalid('the file is empty', [{ path: 'body', message: 'no bytes were sent' }]);
  const signMethod = claim.signMethod ?? current;
  const sign = signMethod === 'md5' ? stored.md5 : stored.sha256;
  if (claim.sign !== undefined && claim.sign !== sign) {
    // The request is well-formed; its body and its sign disagree: 422, as the document declares.
    throw unprocessable(`the file's ${signMethod} does not match the given sign`, [
      { path: 'query.sign', message: `expected ${claim.sign}, the uploaded file's ${signMethod} is ${sign}` },
    ]);
  }
  return { sign, signMethod };
}

export async function uploadFirmwareFile(
  deps: FirmwareFilesDeps,
  firmwareId: string,
  body: Readable,
  claim: UploadClaim,
): Promise<Firmware> {
  const before = await requireFirmware(deps.db, firmwareId);
  // Verified bytes stay the verified bytes: a new file is a new firmware version.
  if (before.verified) {
    throw conflict(`firmware ${firmwareId} is verified; its file cannot change`, [
      { path: 'params.firmwareId', message: 'verified firmware is immutable; register a new version' },
    ]);
  }
  await refuseIfInUse(deps.db, firmwareId);
  const stored = await deps.store.write(firmwareId, body, deps.maxBytes);
  try {
    const { sign, signMethod } = uploadRules(stored, claim, before.signMethod);
    const { firmware, replaced } = await attachFirmwareFile(
      deps.db,
      firmwareId,
      { ...stored, uploadedAt: new Date() },
      { fileUrl: downloadUrl(deps.downloadBaseUrl, firmwareId), fileSize: stored.size, sign, signMethod },
    );
    if (replaced) await deps.store.remove(replaced.fileId);
    return firmware;
  } catch (error) {
    await deps.store.remove(stored.fileId);
    throw error;
  }
}

/** Deletes the firmware (409 while in use), then its file. */
export async function deleteFirmwareAndFile(deps: Pick<FirmwareFilesDeps, 'db' | 'store'>, firmwareId: string) {
  const file = await deleteFirmware(deps.db, firmwareId);
  if (file) await deps.store.remove(file.fileId);
}
