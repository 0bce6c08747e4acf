/**
 * Polls until a condition holds, for tests that watch a real system settle:
 * resolves with the value that satisfied `ok`, or fails after `timeoutMs`
 * naming what it waited for and the last value seen.
 */
export async function eventually<T>(
  what: string,
  fn: () => T | Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 20_000,
  pollMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, pollMs));
    last = await fn();
  }
  return last;
}
