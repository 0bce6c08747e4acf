/**
 * Push rate: how many devices a task may start per minute, with an optional
 * exponential ramp (AWS IoT Jobs' rollout rate): begin slowly and speed up as
 * devices succeed. Kept as a token bucket the task workflow carries; pure, so
 * the workflow stays deterministic and the rules are tested alone.
 */

export interface RateLimit {
  /** At most this many devices started per minute (the ramp's ceiling). */
  perMinute: number;
  ramp?: {
    /** The rate to begin with. */
    startPerMinute: number;
    /** Multiplies the rate each time another `everySucceeded` devices have succeeded. */
    factor: number;
    everySucceeded: number;
  };
}

export interface Bucket {
  tokens: number;
  atMs: number;
}

/** Devices per minute now, given how many of the task's devices have succeeded. */
export function rateNow(limit: RateLimit, succeeded: number): number {
  if (!limit.ramp) return limit.perMinute;
  const steps = Math.floor(succeeded / limit.ramp.everySucceeded);
  return Math.min(limit.perMinute, limit.ramp.startPerMinute * limit.ramp.factor ** steps);
}

/** The most starts saved up: ten seconds' worth, at least one. Starts go out in batches of this size. */
export function burstOf(perMinute: number): number {
  return Math.max(1, Math.ceil(perMinute / 6));
}

/** The bucket at `nowMs`; a task's first bucket starts full. */
export function refill(bucket: Bucket | undefined, perMinute: number, nowMs: number): Bucket {
  const cap = burstOf(perMinute);
  if (!bucket) return { tokens: cap, atMs: nowMs };
  const earned = ((nowMs - bucket.atMs) * perMinute) / 60_000;
  return { tokens: Math.min(cap, bucket.tokens + earned), atMs: nowMs };
}

/** When the bucket will hold `want` starts (now if it already does). */
export function readyAtMs(bucket: Bucket, perMinute: number, want: number): number {
  const missing = want - bucket.tokens;
  return missing <= 0 ? bucket.atMs : bucket.atMs + Math.ceil((missing * 60_000) / perMinute);
}
