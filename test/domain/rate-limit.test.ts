/** The push rate's token bucket and ramp. */
import { burstOf, rateNow, readyAtMs, refill } from '../../domain/rate-limit';

describe('push rate', () => {
  it('ramps by the factor for every so many successes, up to the ceiling', () => {
    const limit = { perMinute: 100, ramp: { startPerMinute: 10, factor: 2, everySucceeded: 5 } };
    expect([0, 4, 5, 9, 10, 15, 20, 1000].map((n) => rateNow(limit, n))).toEqual([10, 10, 20, 20, 40, 80, 100, 100]);
    expect(rateNow({ perMinute: 30 }, 1000)).toBe(30);
  });

  it('saves up ten seconds of starts, at least one, and starts full', () => {
    expect([1, 6, 7, 60, 600].map(burstOf)).toEqual([1, 1, 2, 10, 100]);
    expect(refill(undefined, 60, 5000)).toEqual({ tokens: 10, atMs: 5000 });
  });

  it('earns starts at the rate, never beyond the burst, and says when enough are saved', () => {
    const empty = { tokens: 0, atMs: 0 };
    expect(refill(empty, 60, 3000)).toEqual({ tokens: 3, atMs: 3000 });
    expect(refill(empty, 60, 60_000).tokens).toBe(10);
    expect(readyAtMs(empty, 2, 1)).toBe(30_000);
    expect(readyAtMs({ tokens: 0.5, atMs: 1000 }, 60, 10)).toBe(10_500);
    expect(readyAtMs({ tokens: 3, atMs: 1000 }, 60, 2)).toBe(1000);
  });
});
