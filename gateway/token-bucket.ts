/**
 * Token buckets (pure, clock passed in): a device's message rate and a source
 * address's login failures. `KeyedBuckets` holds at most `maxKeys` buckets and
 * forgets the least recently used, so addresses sprayed by an attacker cannot
 * grow it without bound.
 */
export interface BucketRate {
  perSec: number;
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: BucketRate,
    now: number,
  ) {
    this.tokens = rate.burst;
    this.at = now;
  }

  private refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.at) / 1000) * this.rate.perSec);
      this.at = now;
    }
  }

  /** Takes one token; false when none is left. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether a token is there, without taking it. */
  has(now: number): boolean {
    this.refill(now);
    return this.tokens >= 1;
  }
}

export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate: BucketRate,
    private readonly maxKeys: number,
  ) {}

  private bucket(key: string, now: number): TokenBucket {
    let bucket = this.buckets.get(key);
    if (bucket) {
      // Re-inserted so that the Map's order is least recently used first.
      this.buckets.delete(key);
    } else {
      bucket = new TokenBucket(this.rate, now);
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
    }
    this.buckets.set(key, bucket);
    return bucket;
  }

  take(key: string, now: number): boolean {
    return this.bucket(key, now).take(now);
  }

  has(key: string, now: number): boolean {
    return this.buckets.get(key)?.has(now) ?? true;
  }

  forget(key: string): void {
    this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** Keys remembered for a while, at most `maxKeys` of them (oldest forgotten first). */
export class ExpiringSet {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxKeys: number,
  ) {}

  add(key: string, now: number): void {
    if (this.ttlMs <= 0) return;
    this.until.delete(key);
    if (this.until.size >= this.maxKeys) {
      const oldest = this.until.keys().next();
      if (!oldest.done) this.until.delete(oldest.value);
    }
    this.until.set(key, now + this.ttlMs);
  }

  has(key: string, now: number): boolean {
    const end = this.until.get(key);
    if (end === undefined) return false;
    if (end > now) return true;
    this.until.delete(key);
    return false;
  }

  delete(key: string): void {
    this.until.delete(key);
  }

  clear(): void {
    this.until.clear();
  }
}
