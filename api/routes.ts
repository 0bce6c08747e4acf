/**
 * Assembles the /v1 routers from their modules. Each resource lives in its own
 * file under api/routes/; this is the one list of them.
 */
import { Client, type Connection } from '@temporalio/client';
import type { Express, Router } from 'express';
import type { Db } from 'mongodb';
import type { Config } from '../config/config';
import { ensureAllIndexes } from '../db/all-indexes';
import { createTaskService } from '../orchestration/task-service';
import type { RegistryEvents } from '../orchestration/device-events';
import type { Logger } from '../runtime/log';
import { createApp } from './app';
import { gatewayNotice } from './gateway-notice';
import { openApiRouter } from './openapi/router';
import { assetTreesRouter } from './routes/asset-trees';
import { devicesRouter } from './routes/devices';
import { fleetRouter } from './routes/fleet';
import { firmwareRouter } from './routes/firmware';
import { firmwareDownloadRouter } from './routes/firmware-download';
import { firmwareFileRouter } from './routes/firmware-file';
import { chooseFirmwareStore } from '../artifacts/choose-store';
import { productsRouter } from './routes/products';
import { tasksRouter } from './routes/tasks';
import { verificationRouter } from './routes/verification';
import { uiRouter } from './ui-route';

export interface ApiContext {
  config: Config;
  db: Db;
  temporal: Connection;
  log: Logger;
  /** Told after devices are registered, so running increment tasks rescan. Optional: tests may leave it out. */
  registryEvents?: RegistryEvents;
}

export interface Api {
  routers: Router[];
  extra: Router[];
}

export async function buildApi(ctx: ApiContext): Promise<Api> {
  await ensureAllIndexes(ctx.db);
  const store = await chooseFirmwareStore(ctx.db, ctx.config);
  const files = ctx.config.firmwareFiles;
  const tasks = createTaskService({
    db: ctx.db,
    client: new Client({ connection: ctx.temporal, namespace: ctx.config.temporalNamespace }),
    taskQueue: ctx.config.temporalTaskQueue,
  });
  const routers: Router[] = [
    devicesRouter({
      db: ctx.db,
      log: ctx.log,
      registryEvents: ctx.registryEvents,
      deviceRemoved: gatewayNotice(ctx.config.gatewayUrl, ctx.log),
    }),
    productsRouter({ db: ctx.db }),
    fleetRouter({ db: ctx.db }),
    firmwareRouter({ db: ctx.db, store }),
    assetTreesRouter({ db: ctx.db }),
    verificationRouter({ db: ctx.db, tasks }),
    tasksRouter({ db: ctx.db, tasks }),
  ];
  const upload = { db: ctx.db, store, maxBytes: files.maxBytes, downloadBaseUrl: files.downloadBaseUrl };
  const download = { db: ctx.db, store, signingKey: files.signingKey };
  return {
    routers,
    extra: [
      openApiRouter(),
      uiRouter(),
      firmwareFileRouter({ ...upload, apiToken: ctx.config.apiToken }),
      firmwareDownloadRouter(download),
    ],
  };
}

/** The whole HTTP app for one context: /v1 routers, /openapi.json, /ui, /healthz, auth and errors. */
export async function createApiApp(ctx: ApiContext): Promise<Express> {
  const api = await buildApi(ctx);
  return createApp({
    log: ctx.log,
    apiToken: ctx.config.apiToken,
    http: ctx.config.apiHttp,
    health: {
      db: ctx.db,
      temporal: ctx.temporal,
      namespace: ctx.config.temporalNamespace,
      taskQueue: ctx.config.temporalTaskQueue,
      gatewayUrl: ctx.config.gatewayUrl,
    },
    routers: api.routers,
    extra: api.extra,
  });
}
