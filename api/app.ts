/**
 * The HTTP API as an Express app, built from its dependencies so tests can
 * mount it on an ephemeral port against the real database and Temporal.
 */
import express, { type Router } from 'express';
import type { Logger } from '../runtime/log';
import { bearerAuth } from './auth';
import { errorHandler, notFoundRoute } from './errors';
import { checkHealth, type HealthDeps } from './health';

export interface AppDeps {
  health: HealthDeps;
  log: Logger;
  /** Bearer token required on /v1 when set. */
  apiToken?: string;
  /** The /v1 routers, mounted in order. */
  routers: Router[];
  /** Extra top-level routes (e.g. /openapi.json). */
  extra?: Router[];
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('json spaces', 0);

  app.get('/healthz', (_req, res, next) => {
    checkHealth(deps.health)
      .then((report) => res.status(report.status === 'up' ? 200 : 503).json(report))
      .catch(next);
  });
  for (const r of deps.extra ?? []) app.use(r);

  const v1 = express.Router();
  // Before the body parser: an unauthenticated caller's body is never read.
  v1.use(bearerAuth(deps.apiToken));
  v1.use(express.json({ limit: '16mb', strict: false }));
  for (const r of deps.routers) v1.use(r);
  app.use('/v1', v1);

  app.use(notFoundRoute);
  app.use(errorHandler(deps.log));
  return app;
}
