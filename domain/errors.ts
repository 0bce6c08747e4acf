/**
 * Typed errors with a stable code. They are mapped once to an HTTP status
 * (api/errors.ts) and to an MQTT reply code (gateway), so every boundary
 * reports the same reason in its own dialect.
 */
export type ErrorCode = 'invalid_request' | 'unauthorized' | 'not_found' | 'conflict' | 'unavailable' | 'internal';

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

/** Errors cross realms (Jest, worker sandboxes), so match on the name, not instanceof. */
export function isOtaError(err: unknown): err is OtaError {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'OtaError';
}

export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
  internal: 500,
};
