/**
 * Runs tasks one after another per key. Presence writes and orchestration
 * calls of one device must keep the order the device sent them in (progress
 * 20 before 80, online before offline), while devices run in parallel.
 */
export class KeyedSerialQueue {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly counts = new Map<string, number>();

  run(key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    // Callers log their own failures; a failed task must not stall the device's queue.
    const next = previous.then(task).catch(() => undefined);
    this.tails.set(key, next);
    // Forget the key once its queue is empty, so 10,000 devices leave no residue.
    void next.then(() => {
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left > 0) this.counts.set(key, left);
      else this.counts.delete(key);
      if (this.tails.get(key) === next) this.tails.delete(key);
    });
    return next;
  }

  /** Keys with work queued or running: the queue depth a metrics scrape reads. */
  get pendingKeys(): number {
    return this.tails.size;
  }

  /** Tasks of this key queued or running. */
  pending(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Resolves when everything queued so far has run (used on close). */
  async drain(): Promise<void> {
    await Promise.all([...this.tails.values()]);
  }
}

/** Runs at most `limit` tasks at once. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}
