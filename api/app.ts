/**
 * The HTTP API as an Express app, built from its dependencies so tests can
 * mount it on an ephemeral port against the real database and Temporal.
 */
import express, { type Router } from 'express';
import { apiHttpConfig, type ApiHttpConfig } from '../config/config';
import type { Logger } from '../runtime/log';
import { bearerAuth, isAuthenticated, isLoopbackClient } from './auth';
import { errorHandler, notFoundRoute } from './errors';
import { checkHealth, withoutDetails, type HealthDeps } from './health';
import { hostCheck } from './host-check';
import { jsonShapeProblem } from './json-limits';
import { methodNotAllowed, type DeclaredPaths } from './method-not-allowed';
import { buildOpenApiDocument } from './openapi/document';

export interface AppDeps {
  health: HealthDeps;
  log: Logger;
  /** Bearer token required on /v1 when set. */
  apiToken?: string;
  /** Request limits, Host names and TLS (only whether it is on matters here); the defaults when absent. */
  http?: ApiHttpConfig;
  /** The /v1 routers, mounted in order. */
  routers: Router[];
  /** Extra top-level routes (e.g. /openapi.json). */
  extra?: Router[];
  /** Paths and their methods, as the OpenAPI document declares them: another method answers 405. */
  declaredPaths?: DeclaredPaths;
}

/** Thrown from the body parser's verify hook; errorHandler turns it into a 400. */
export class BodyShapeError extends Error {
  readonly type = 'entity.shape.refused';
  readonly status = 400;
}

export function createApp(deps: AppDeps): express.Express {
  const http = deps.http ?? apiHttpConfig({});
  const app = express();
  app.disable('x-powered-by');
  app.set('json spaces', 0);
  // Tokenless means loopback-only: refuse requests a browser was tricked into sending here.
  if (!deps.apiToken) app.use(hostCheck(http.allowedHosts, http.tlsCertFile !== undefined));

  app.get('/healthz', (req, res, next) => {
    const full = isAuthenticated(deps.apiToken, req) || isLoopbackClient(req);
    checkHealth(deps.health)
      .then((report) => res.status(report.status === 'up' ? 200 : 503).json(full ? report : withoutDetails(report)))
      .catch(next);
  });
  for (const r of deps.extra ?? []) app.use(r);

  const { maxBodyBytes, maxJsonDepth, maxArrayItems } = http;
  const v1 = express.Router();
  // Before the body parser: an unauthenticated caller's body is never read.
  v1.use(bearerAuth(deps.apiToken));
  v1.use(
    express.json({
      limit: maxBodyBytes,
      strict: false,
      // On the raw bytes, before JSON.parse: nothing deep or huge reaches the parser or the validators.
      verify: (_req, _res, buf) => {
        const problem = jsonShapeProblem(buf, { maxDepth: maxJsonDepth, maxArrayItems });
        if (problem) throw new BodyShapeError(`request body ${problem}`);
      },
    }),
  );
  for (const r of deps.routers) v1.use(r);
  app.use('/v1', v1);

  app.use(methodNotAllowed(deps.declaredPaths ?? (buildOpenApiDocument().paths as DeclaredPaths)));
  app.use(notFoundRoute);
  app.use(errorHandler(deps.log));
  return app;
}
