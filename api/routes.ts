/**
 * Assembles the /v1 routers from their modules. Each resource lives in its own
 * file under api/routes/; this is the one list of them.
 */
import type { Connection } from '@temporalio/client';
import type { Router } from 'express';
import type { Db } from 'mongodb';
import type { Config } from '../config/config';
import type { Logger } from '../runtime/log';

export interface ApiContext {
  config: Config;
  db: Db;
  temporal: Connection;
  log: Logger;
}

export interface Api {
  routers: Router[];
  extra: Router[];
}

export async function buildApi(ctx: ApiContext): Promise<Api> {
  void ctx;
  return { routers: [], extra: [] };
}
