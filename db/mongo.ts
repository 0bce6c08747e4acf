/**
 * One MongoDB client per process. Short server-selection timeouts make a dead
 * database show up as a fast error (and a 503 on /healthz) instead of a hang;
 * the driver reconnects by itself when the database comes back.
 */
import { MongoClient, MongoServerError, type Db } from 'mongodb';

export interface Mongo {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

export async function connectMongo(url: string): Promise<Mongo> {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: 3000,
    connectTimeoutMS: 3000,
    maxPoolSize: 20,
    appName: 'ota-temporal',
  });
  await client.connect();
  // The URL's path names the database; default to "ota" for bare URLs.
  const db = client.db(client.options.dbName && client.options.dbName !== 'test' ? client.options.dbName : 'ota');
  return { client, db, close: () => client.close() };
}

export async function pingDb(db: Db, timeoutMs = 1500): Promise<void> {
  await Promise.race([
    db.command({ ping: 1 }),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs).unref()),
  ]);
}

/** The server refused a write because the unique key (often `_id`) is taken. */
export const isDuplicateKey = (err: unknown): boolean => err instanceof MongoServerError && err.code === 11000;
