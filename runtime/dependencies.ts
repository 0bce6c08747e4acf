/**
 * A service that starts while the database or Temporal is down (first boot,
 * or a restart during their outage) waits for them instead of exiting: it
 * retries with backoff and says what it waits for. Once running, the MongoDB
 * driver and the Temporal connections reconnect by themselves.
 */
import { Connection } from '@temporalio/client';
import { MongoClient } from 'mongodb';
import type { Logger } from './log';

export interface Dependencies {
  /** MongoDB connection string to ping. */
  database?: string;
  /** Temporal frontend host:port to ask for its system info. */
  temporal?: string;
}

const MIN_DELAY_MS = 250;
const MAX_DELAY_MS = 5000;

/** Resolves once every named dependency answers; never rejects. */
export async function waitForDependencies(deps: Dependencies, log: Logger): Promise<void> {
  const { database, temporal } = deps;
  const waits: Promise<void>[] = [];
  if (database !== undefined) waits.push(retryUntilDone('the database', () => pingDatabase(database), log));
  if (temporal !== undefined) waits.push(retryUntilDone('Temporal', () => pingTemporal(temporal), log));
  await Promise.all(waits);
}

/** Runs fn until it resolves, waiting longer after each failure, and logs the first failure and every tenth. */
export async function retryUntilDone<T>(what: string, fn: () => Promise<T>, log: Logger): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const value = await fn();
      if (attempt > 0) log.info(`${what} is reachable`, { attempts: attempt + 1 });
      return value;
    } catch (err) {
      if (attempt % 10 === 0) log.warn(`waiting for ${what}`, { err });
      await new Promise((r) => setTimeout(r, Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** attempt)));
    }
  }
}

async function pingDatabase(url: string): Promise<void> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000 });
  try {
    await client.db('admin').command({ ping: 1 });
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function pingTemporal(address: string): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: 2000 });
  try {
    await connection.withDeadline(Date.now() + 2000, () => connection.workflowService.getSystemInfo({}));
  } finally {
    await connection.close().catch(() => undefined);
  }
}
