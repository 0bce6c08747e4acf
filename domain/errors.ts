/**
 * Typed errors with a stable code. They are mapped once to an HTTP status
 * (api/errors.ts) and to an MQTT reply code (gateway), so every boundary
 * reports the same reason in its own dialect.
 */
export type ErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'unprocessable'
  | 'unavailable'
  | 'internal';

export interface ErrorDetail {
  /** JSON-pointer-like path of the offending field, e.g. "/schedule/windows/0/end". */
  path: string;
  message: string;
}

export class OtaError extends Error {
  override readonly name = 'OtaError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
  }
}

export const invalid = (message: string, details: ErrorDetail[] = []): OtaError =>
  new OtaError('invalid_request', message, details);
export const notFound = (message: string): OtaError => new OtaError('not_found', message);
export const conflict = (message: string, details: ErrorDetail[] = []): OtaError =>
  new OtaError('conflict', message, details);
/** A well-formed body (it fits its schema) that breaks a rule over several of its own fields. */
export const unprocessable = (message: string, details: ErrorDetail[] = []): OtaError =>
  new OtaError('unprocessable', message, details);

/** Errors cross realms (Jest, worker sandboxes), so match on the name, not instanceof. */
export function isOtaError(err: unknown): err is OtaError {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'OtaError';
}

export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  unprocessable: 422,
  unavailable: 503,
  internal: 500,
};
