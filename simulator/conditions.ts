/**
 * Promises that resolve once a condition holds, checked again each time the
 * owner reports a change (no polling): the fleet waits on its devices' records
 * this way, and tests on the calls a recorder saw.
 */
export class Conditions {
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  /** Resolves when `check` holds; rejects after timeoutMs with `timeoutMessage()`, read at that moment. */
  until(check: () => boolean, timeoutMs: number, timeoutMessage: () => string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(timeoutMessage()));
      }, timeoutMs);
      const waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Something the conditions read has changed: resolves the waiters whose condition now holds. */
  changed(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }
}
