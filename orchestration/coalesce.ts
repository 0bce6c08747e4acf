/**
 * Turns bursts of identical hints into one: the first call for a key runs at
 * once, further calls within `windowMs` collapse into a single trailing run.
 * Ten thousand devices reconnecting make a handful of "rescan" signals, not
 * ten thousand (a workflow run accepts at most 10,000 signals).
 */
export function coalesce(run: (key: string) => Promise<void>, windowMs: number): (key: string) => void {
  const state = new Map<string, { last: number; trailing: NodeJS.Timeout | null }>();
  const fire = (key: string) => {
    const entry = state.get(key) ?? { last: 0, trailing: null };
    entry.last = Date.now();
    entry.trailing = null;
    state.set(key, entry);
    void run(key).catch(() => undefined);
  };
  return (key: string) => {
    const entry = state.get(key);
    const since = entry ? Date.now() - entry.last : Infinity;
    if (since >= windowMs) {
      fire(key);
      return;
    }
    if (entry && !entry.trailing) {
      entry.trailing = setTimeout(() => fire(key), windowMs - since);
      entry.trailing.unref();
    }
  };
}

/**
 * Collects items per key and hands each key's batch over once `windowMs` after
 * its first item: a burst of devices reporting makes one signal per task.
 */
export function batchPerKey<T>(
  run: (key: string, items: T[]) => Promise<void>,
  windowMs: number,
): (key: string, item: T) => void {
  const pending = new Map<string, T[]>();
  return (key, item) => {
    const batch = pending.get(key);
    if (batch) {
      batch.push(item);
      return;
    }
    pending.set(key, [item]);
    setTimeout(() => {
      const items = pending.get(key) ?? [];
      pending.delete(key);
      void run(key, items).catch(() => undefined);
    }, windowMs).unref();
  };
}
