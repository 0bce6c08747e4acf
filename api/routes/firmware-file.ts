/**
 * PUT /v1/firmwares/{firmwareId}/file: the firmware's bytes as the raw request
 * body, streamed into the store (never buffered), measured on the way. Mounted
 * ahead of /v1's JSON parser, which would otherwise consume a JSON-typed body,
 * so it applies the bearer check itself.
 */
import { Router, type Response } from 'express';
import { FileTooLarge } from '../../artifacts/digest';
import { parseUploadClaim, uploadFirmwareFile, type FirmwareFilesDeps } from '../../artifacts/firmware-files';
import { bearerAuth } from '../auth';
import { errorBody } from '../errors';

export const UPLOAD_ROUTE = '/v1/firmwares/:firmwareId/file';

export function firmwareFileRouter(deps: FirmwareFilesDeps & { apiToken: string | undefined }): Router {
  const r = Router();
  r.put(UPLOAD_ROUTE, bearerAuth(deps.apiToken), async (req, res) => {
    const claim = parseUploadClaim(req.query);
    const declared = Number(req.get('content-length'));
    if (Number.isFinite(declared) && declared > deps.maxBytes) return tooLarge(res, deps.maxBytes);
    try {
      res.json(await uploadFirmwareFile(deps, String(req.params.firmwareId), req, claim));
    } catch (error) {
      if (error instanceof FileTooLarge) return tooLarge(res, deps.maxBytes);
      throw error;
    }
  });
  return r;
}

/**
 * 413, and the connection closes after it: the rest of an oversized body is
 * not worth reading, and a keep-alive connection would have to read it.
 */
function tooLarge(res: Response, maxBytes: number): void {
  res
    .status(413)
    .set('Connection', 'close')
    .json(
      errorBody('invalid_request', `the file is larger than the limit of ${maxBytes} bytes`, [
        { path: 'body', message: `at most ${maxBytes} bytes (OTA_FIRMWARE_MAX_BYTES)` },
      ]),
    );
}
