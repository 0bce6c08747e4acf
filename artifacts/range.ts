/**
 * The HTTP Range rules of a firmware download (RFC 9110 §14), as pure functions
 * of the request headers and the file's size and ETag, so the route only does I/O.
 * One byte range is served; a list of ranges is answered with the whole file,
 * which the RFC allows and devices resuming a download never ask for anyway.
 */

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export type RangeDecision =
  { kind: 'full' } | { kind: 'partial'; range: ByteRange } | { kind: 'unsatisfiable' } | { kind: 'not-modified' };

export interface DownloadRequestHeaders {
  range?: string;
  ifRange?: string;
  ifNoneMatch?: string;
}

/** Strong ETags only: a file's bytes never change under one (a new upload is a new digest). */
export function etagOf(sha256: string): string {
  return `"${sha256}"`;
}

export function decideRange(headers: DownloadRequestHeaders, size: number, etag: string): RangeDecision {
  if (headers.ifNoneMatch !== undefined && matchesAny(headers.ifNoneMatch, etag)) return { kind: 'not-modified' };
  if (headers.range === undefined) return { kind: 'full' };
  // If-Range with another validator: the client's partial copy is of other bytes, so it gets them all.
  if (headers.ifRange !== undefined && headers.ifRange.trim() !== etag) return { kind: 'full' };
  const parsed = parseRange(headers.range, size);
  if (parsed === 'ignore') return { kind: 'full' };
  if (parsed === 'unsatisfiable') return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: parsed };
}

/**
 * `bytes=a-b`, `bytes=a-` and `bytes=-n`. A header we do not understand (another
 * unit, a syntax error, several ranges) is ignored, as the RFC asks.
 */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | 'ignore' {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return 'ignore';
  const [, first, last] = m;
  if (first === '' && last === '') return 'ignore';
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return 'ignore';
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

function matchesAny(list: string, etag: string): boolean {
  return list.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}
