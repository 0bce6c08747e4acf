/**
 * GET/HEAD /firmware-files/{firmwareId}: where devices fetch firmware. No API
 * token: the signed URL the upgrade command carries is the authorisation (403
 * when its signature is wrong or expired). Serves one byte range (resuming a
 * cut download) and answers If-None-Match with 304 against a strong ETag, the
 * file's sha256.
 */
import { pipeline } from 'node:stream/promises';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Db } from 'mongodb';
import { decideRange, etagOf } from '../../artifacts/range';
import { checkSignature } from '../../artifacts/signed-url';
import type { FirmwareFileStore } from '../../artifacts/store';
import { firmwareFile } from '../../db/firmware';
import { errorBody } from '../errors';

export interface DownloadDeps {
  db: Db;
  store: FirmwareFileStore;
  signingKey: string;
  now?: () => number;
}

export function firmwareDownloadRouter(deps: DownloadDeps): Router {
  const r = Router();
  const now = deps.now ?? Date.now;
  const serve: RequestHandler = async (req, res) => {
    const firmwareId = String(req.params.firmwareId);
    const check = checkSignature(deps.signingKey, firmwareId, req.query.expires, req.query.signature, now());
    if (check !== 'valid') {
      res
        .status(403)
        .json(
          errorBody(
            'unauthorized',
            check === 'expired' ? 'the download URL has expired' : 'the download URL is not signed by this service',
          ),
        );
      return;
    }
    const file = await firmwareFile(deps.db, firmwareId);
    if (!file) {
      res.status(404).json(errorBody('not_found', `firmware ${firmwareId} has no uploaded file`));
      return;
    }
    // Checked before any header is set: once bytes start to flow, a failure can only cut the answer short.
    if (!(await deps.store.has(file.fileId))) {
      res
        .status(404)
        .json(errorBody('not_found', `the file of firmware ${firmwareId} is missing from storage: upload it again`));
      return;
    }
    await send(req, res, deps.store, file);
  };
  r.get('/firmware-files/:firmwareId', serve);
  r.head('/firmware-files/:firmwareId', serve);
  return r;
}

async function send(
  req: Request,
  res: Response,
  store: FirmwareFileStore,
  file: { fileId: string; size: number; sha256: string },
): Promise<void> {
  const etag = etagOf(file.sha256);
  res.set({ ETag: etag, 'Accept-Ranges': 'bytes', 'Cache-Control': 'private, no-transform' });
  const decision = decideRange(
    { range: req.get('range'), ifRange: req.get('if-range'), ifNoneMatch: req.get('if-none-match') },
    file.size,
    etag,
  );
  if (decision.kind === 'not-modified') {
    res.status(304).end();
    return;
  }
  if (decision.kind === 'unsatisfiable') {
    res
      .status(416)
      .set('Content-Range', `bytes */${file.size}`)
      .json(errorBody('invalid_request', 'range not satisfiable'));
    return;
  }
  const range = decision.kind === 'partial' ? decision.range : undefined;
  res.status(range ? 206 : 200).set({
    'Content-Type': 'application/octet-stream',
    'Content-Length': String(range ? range.end - range.start + 1 : file.size),
    ...(range ? { 'Content-Range': `bytes ${range.start}-${range.end}/${file.size}` } : {}),
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  // Headers are sent once bytes flow: a read failure after that can only cut the response short.
  await pipeline(store.read(file.fileId, range), res).catch((error: unknown) => {
    if (!res.headersSent) throw error;
    res.destroy();
  });
}
