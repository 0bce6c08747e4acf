/**
 * How the gateway uses the registry under load. Login lookups that arrive
 * together are answered by one query per product. Writes are plain `$set`s,
 * queued per device and merged while they wait (online + version right after
 * a connect become one update), with a small number in flight: a reconnect
 * storm of 10,000 devices then costs a few dozen reads and about one write
 * per device, and the embedded SQLite-backed database (which scans the
 * collection for every query and runs them one at a time) is not flooded.
 * Logins go first: while lookups run, writes wait (at most a second each).
 */
import { MongoServerError } from 'mongodb';
import type { DevicePresenceStore, LoginRecord, PresenceFields } from '../db/device-presence';
import type { DeviceRef } from '../orchestration/device-events';
import { deviceId } from './topics';

/** Gather lookups for this long (or until this many wait); one query asks for at most BATCH_MAX devices. */
const BATCH_WINDOW_MS = 5;
const BATCH_MAX = 500;
/** While logins are being looked up, writes wait, but one still goes through at least this often. */
const MAX_WRITE_PAUSE_MS = 1000;
/** A write the database could not take (it is restarting, unreachable) is tried again after this, doubling. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5000;

/**
 * The database did not answer (network, server selection, a restart): the same `$set` is tried
 * again. An error the server answered with would answer the same again.
 */
function transient(err: unknown): boolean {
  return !(err instanceof MongoServerError) || err.hasErrorLabel('RetryableWriteError');
}

export interface RegistryAccess {
  findForLogin(device: DeviceRef): Promise<LoginRecord | null>;
  /** Resolves once the fields (possibly merged with later ones of the same device) are stored. */
  update(device: DeviceRef, fields: PresenceFields): Promise<void>;
}

interface PendingWrite {
  device: DeviceRef;
  fields: PresenceFields;
  done: { resolve(): void; reject(err: unknown): void }[];
}

export function registryAccess(store: DevicePresenceStore, writeConcurrency = 2): RegistryAccess {
  type Waiter = { deviceKey: string; resolve: (r: LoginRecord | null) => void; reject: (e: unknown) => void };
  /** Devices whose last write failed: their retries so far and when the next may go. */
  const retries = new Map<string, { count: number; notBefore: number }>();
  const lookups = new Map<string, Waiter[]>();
  let lookupCount = 0;
  let lookupsInFlight = 0;
  let timer: NodeJS.Timeout | undefined;

  const flushLookups = () => {
    clearTimeout(timer);
    timer = undefined;
    const batches = [...lookups.entries()];
    lookups.clear();
    lookupCount = 0;
    const chunks = batches.flatMap(([productKey, waiters]) =>
      Array.from({ length: Math.ceil(waiters.length / BATCH_MAX) }, (_, i) => ({
        productKey,
        waiters: waiters.slice(i * BATCH_MAX, (i + 1) * BATCH_MAX),
      })),
    );
    for (const { productKey, waiters } of chunks) {
      const keys = [...new Set(waiters.map((w) => w.deviceKey))];
      lookupsInFlight += 1;
      store
        .findForLogin(productKey, keys)
        .then(
          (records) => {
            const byKey = new Map(records.map((r) => [r.deviceKey, r]));
            waiters.forEach((w) => w.resolve(byKey.get(w.deviceKey) ?? null));
          },
          (err: unknown) => waiters.forEach((w) => w.reject(err)),
        )
        .finally(() => {
          lookupsInFlight -= 1;
          if (lookupsInFlight === 0 && lookupCount > 0) flushLookups();
          pump();
        });
    }
  };

  // Devices with a write waiting, in arrival order; a Map keeps insertion order and merges by key.
  const queued = new Map<string, PendingWrite>();
  // One write per device at a time, so a device's writes reach the database in the order they were made.
  const inFlight = new Set<string>();
  let lastWriteAt = Date.now();
  let resume: NodeJS.Timeout | undefined;
  const pump = (): void => {
    // Logins first: a device waiting for its CONNACK matters more than a presence timestamp,
    // and the embedded database serves one query at a time.
    const loggingIn = lookupsInFlight > 0 || lookupCount > 0;
    if (loggingIn && Date.now() - lastWriteAt < MAX_WRITE_PAUSE_MS) {
      resume ??= setTimeout(() => {
        resume = undefined;
        pump();
      }, MAX_WRITE_PAUSE_MS).unref();
      return;
    }
    for (const [id, write] of queued) {
      if (inFlight.size >= (loggingIn ? 1 : writeConcurrency)) return;
      if (inFlight.has(id) || (retries.get(id)?.notBefore ?? 0) > Date.now()) continue;
      queued.delete(id);
      inFlight.add(id);
      lastWriteAt = Date.now();
      store
        .update(write.device, write.fields)
        .then(
          () => {
            retries.delete(id);
            write.done.forEach((d) => d.resolve());
          },
          (err: unknown) => (transient(err) ? retryLater(id, write) : write.done.forEach((d) => d.reject(err))),
        )
        .finally(() => {
          inFlight.delete(id);
          pump();
        });
    }
  };

  /**
   * Back in the queue, under any later write of the device (its fields win), until the database
   * takes it: a version or presence a device reported while the database restarted is not lost.
   * Its callers wait meanwhile, as a device's events wait for its presence to be stored.
   */
  const retryLater = (id: string, write: PendingWrite): void => {
    const count = (retries.get(id)?.count ?? 0) + 1;
    const delay = Math.min(RETRY_FIRST_MS * 2 ** (count - 1), RETRY_MAX_MS);
    retries.set(id, { count, notBefore: Date.now() + delay });
    const later = queued.get(id);
    queued.delete(id);
    queued.set(id, {
      device: write.device,
      fields: { ...write.fields, ...later?.fields },
      done: [...write.done, ...(later?.done ?? [])],
    });
    setTimeout(pump, delay).unref();
  };

  return {
    findForLogin(device) {
      return new Promise((resolve, reject) => {
        const list = lookups.get(device.productKey) ?? [];
        list.push({ deviceKey: device.deviceKey, resolve, reject });
        lookups.set(device.productKey, list);
        lookupCount += 1;
        // One lookup at a time: logins arriving meanwhile gather into the next one (one query per batch).
        if (lookupsInFlight > 0) return;
        if (lookupCount >= BATCH_MAX) flushLookups();
        else timer ??= setTimeout(flushLookups, BATCH_WINDOW_MS);
      });
    },
    update(device, fields) {
      return new Promise((resolve, reject) => {
        const id = deviceId(device);
        const waiting = queued.get(id);
        // Later fields win, as they would if the writes ran one after another.
        if (waiting) {
          waiting.fields = { ...waiting.fields, ...fields };
          waiting.done.push({ resolve, reject });
        } else {
          queued.set(id, { device, fields, done: [{ resolve, reject }] });
        }
        pump();
      });
    },
  };
}
