/**
 * The registry API on an ephemeral port against a private database on the
 * suite's real FerretDB/MongoDB, exactly as api/server.ts wires it (buildApi
 * + createApp), and a tiny JSON client for the tests.
 */
import type { AddressInfo } from 'node:net';
import { Connection } from '@temporalio/client';
import type { Db } from 'mongodb';
import { loadConfig } from '../../config/config';
import { apiScheme, createApiServer } from '../../api/listener';
import { createApiApp } from '../../api/routes';
import type { RegistryEvents } from '../../orchestration/device-events';
import { silentLogger } from '../../runtime/log';
import { temporalAddress, testDb } from '../helpers/stack';

export interface Answer {
  status: number;
  // Tests read fields freely from answers they then assert on.
  body: Record<string, unknown> & {
    error?: { code: string; message: string; details: { path: string; message: string }[] };
  };
  headers: Headers;
}

export interface RegistryApi {
  url: string;
  db: Db;
  /** The database's connection string, for a worker started beside this API. */
  dbUrl: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  close(): Promise<void>;
}

export async function startRegistryApi(
  name: string,
  opts: {
    apiToken?: string;
    registryEvents?: RegistryEvents;
    /** More settings (limits, Host names, TLS files). */
    env?: Record<string, string>;
    /** Address to listen on; with a token, a non-loopback one is allowed. */
    listenHost?: string;
  } = {},
): Promise<RegistryApi> {
  const mongo = await testDb(name);
  const listenHost = opts.listenHost ?? '127.0.0.1';
  const config = loadConfig({
    ...process.env,
    OTA_API_TOKEN: opts.apiToken ?? '',
    OTA_API_HOST: listenHost,
    OTA_GATEWAY_URL: 'http://127.0.0.1:9',
    ...opts.env,
  });
  const temporal = Connection.lazy({ address: temporalAddress() });
  // Real dependencies; the gateway is not part of these tests, so /healthz reports it down.
  const app = await createApiApp({
    config,
    db: mongo.db,
    temporal,
    log: silentLogger,
    registryEvents: opts.registryEvents,
  });
  const server = createApiServer(app, config.apiHttp).listen(0, listenHost);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const url = `${apiScheme(config.apiHttp)}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const token = opts.apiToken;
  return {
    url,
    db: mongo.db,
    dbUrl: mongo.url,
    async call(method, path, body, headers = {}) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Answer['body']) : {}, headers: res.headers };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await temporal.close();
      await mongo.close();
    },
  };
}

/** The paths of an error answer's details, for exact assertions. */
export const detailPaths = (a: Answer): string[] => (a.body.error?.details ?? []).map((d) => d.path);

/** A valid firmware body; override what the test is about. */
export function firmwareBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    productKey: 'pk1',
    version: '2.0.0',
    fileUrl: 'https://files.example.com/fw-2.0.0.bin',
    fileSize: 1_048_576,
    signMethod: 'md5',
    sign: 'D41D8CD98F00B204E9800998ECF8427E',
    ...over,
  };
}
