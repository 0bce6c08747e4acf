/**
 * Bearer-token check for /v1. The comparison is constant-time over SHA-256
 * digests (equal length whatever the caller sends), so response timing does
 * not reveal how much of a guessed token was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { errorBody } from './errors';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function tokenMatches(expected: string, given: string): boolean {
  return timingSafeEqual(digest(expected), digest(given));
}

function bearerOf(req: Request): string | undefined {
  return /^Bearer[ ]+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1];
}

/** Whether the request carries the configured token (false when none is configured). */
export function isAuthenticated(token: string | undefined, req: Request): boolean {
  const given = bearerOf(req);
  return Boolean(token) && given !== undefined && tokenMatches(token as string, given);
}

/** A client on this machine: the address the connection really comes from, not a header. */
export function isLoopbackClient(req: Request): boolean {
  const addr = req.socket.remoteAddress ?? '';
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}

/** No token configured: everything passes (config allows that on loopback only). */
export function bearerAuth(token: string | undefined): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  return (req, res, next) => {
    if (isAuthenticated(token, req)) {
      next();
      return;
    }
    const match = bearerOf(req) !== undefined;
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer realm="ota"')
      .json(errorBody('unauthorized', match ? 'wrong bearer token' : 'missing "Authorization: Bearer <token>" header'));
  };
}
