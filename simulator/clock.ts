/**
 * Shared timers for thousands of devices: sleeps that end in the same 50 ms
 * slot share one Node timer, so a fleet of 10,000 stepping through an upgrade
 * costs a few hundred timers, not tens of thousands.
 */
const SLOT_MS = 50;

export class SharedClock {
  private readonly slots = new Map<number, { timer: NodeJS.Timeout; wake: (() => void)[] }>();

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    const slot = Math.ceil((Date.now() + ms) / SLOT_MS) * SLOT_MS;
    return new Promise((resolve) => {
      const existing = this.slots.get(slot);
      if (existing) {
        existing.wake.push(resolve);
        return;
      }
      const timer = setTimeout(
        () => {
          const due = this.slots.get(slot);
          this.slots.delete(slot);
          due?.wake.forEach((w) => w());
        },
        Math.max(0, slot - Date.now()),
      );
      this.slots.set(slot, { timer, wake: [resolve] });
    });
  }

  /** Wakes every sleeper now (used when a fleet closes, so no timer keeps the process alive). */
  wakeAll(): void {
    for (const [slot, { timer, wake }] of this.slots) {
      clearTimeout(timer);
      this.slots.delete(slot);
      wake.forEach((w) => w());
    }
  }
}

/** Connect storms: the gateway and the machine both have limits. */
export { Limiter } from '../gateway/serial';
