import type { Request } from 'express';
import { invalid } from '../../domain/errors';

/** The optional Idempotency-Key header: a retried create with the same key returns the same task. */
export function idempotencyKey(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,200}$/.test(key)) {
    throw invalid('invalid Idempotency-Key header', [
      { path: 'header.Idempotency-Key', message: 'must be 1–200 printable ASCII characters' },
    ]);
  }
  return key;
}
