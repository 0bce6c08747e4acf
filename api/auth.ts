/**
 * Bearer-token check for /v1. The comparison is constant-time over SHA-256
 * digests (equal length whatever the caller sends), so response timing does
 * not reveal how much of a guessed token was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { errorBody } from './errors';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function tokenMatches(expected: string, given: string): boolean {
  return timingSafeEqual(digest(expected), digest(given));
}

/** No token configured: everything passes (config allows that on loopback only). */
export function bearerAuth(token: string | undefined): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (match && tokenMatches(token, match[1])) {
      next();
      return;
    }
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer realm="ota"')
      .json(errorBody('unauthorized', match ? 'wrong bearer token' : 'missing "Authorization: Bearer <token>" header'));
  };
}
