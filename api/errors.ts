/**
 * The API's one error shape: {error: {code, message, details}}. Typed domain
 * errors map to their status; body-parser failures become 400s; the database
 * or Temporal out of reach is a 503 naming it; anything else is a 500 whose
 * message does not leak internals.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { HTTP_STATUS, isOtaError, type ErrorCode, type ErrorDetail } from '../domain/errors';
import type { Logger } from '../runtime/log';
import { unavailableDependency } from '../runtime/unavailable';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details: ErrorDetail[] };
}

export function errorBody(code: ErrorCode, message: string, details: ErrorDetail[] = []): ErrorBody {
  return { error: { code, message, details } };
}

export const notFoundRoute: RequestHandler = (req, res) => {
  res.status(404).json(errorBody('not_found', `no route for ${req.method} ${req.path}`));
};

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    void _next;
    if (isOtaError(err)) {
      res.status(HTTP_STATUS[err.code]).json(errorBody(err.code, err.message, err.details));
      return;
    }
    const bodyErr = err as { type?: string; status?: number; message?: string };
    if (bodyErr.type === 'entity.parse.failed') {
      res
        .status(400)
        .json(
          errorBody('invalid_request', 'request body is not valid JSON', [
            { path: '', message: bodyErr.message ?? 'malformed JSON' },
          ]),
        );
      return;
    }
    if (bodyErr.type === 'entity.shape.refused') {
      res
        .status(400)
        .json(
          errorBody('invalid_request', bodyErr.message ?? 'request body refused', [
            { path: '', message: bodyErr.message ?? 'refused' },
          ]),
        );
      return;
    }
    if (bodyErr.type === 'entity.too.large') {
      res.status(413).json(errorBody('invalid_request', 'request body is too large'));
      return;
    }
    if (bodyErr.type === 'encoding.unsupported' || bodyErr.type === 'charset.unsupported') {
      res.status(415).json(errorBody('invalid_request', bodyErr.message ?? 'unsupported encoding'));
      return;
    }
    const down = unavailableDependency(err);
    if (down) {
      log.warn('a dependency is unavailable', { method: req.method, path: req.path, err });
      res.status(503).json(errorBody('unavailable', `${down} is unavailable; try again shortly`));
      return;
    }
    log.error('unhandled API error', { method: req.method, path: req.path, err });
    res.status(500).json(errorBody('internal', 'internal error; see the API log'));
  };
}
