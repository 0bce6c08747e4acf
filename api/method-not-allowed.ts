/**
 * 405 with an Allow header for a method the OpenAPI document does not declare
 * on a path it does declare, so the API and its document agree on what exists
 * (a 404 would say the path itself is unknown). Mounted after every route.
 */
import type { RequestHandler } from 'express';
import { errorBody } from './errors';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** OpenAPI `paths`: template → method → operation. */
export type DeclaredPaths = Record<string, Record<string, unknown>>;

interface PathMethods {
  pattern: RegExp;
  allow: string;
}

/** `{param}` matches one path segment, as Express's `:param` does. */
function patternOf(template: string): RegExp {
  const parts = template.split(/\{[^}]+\}/).map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('[^/]+')}/?$`);
}

export function methodNotAllowed(paths: DeclaredPaths): RequestHandler {
  const table: PathMethods[] = Object.entries(paths).map(([template, ops]) => {
    const declared = Object.keys(ops).filter((m) => METHODS.includes(m));
    // Express answers HEAD wherever GET is routed.
    if (declared.includes('get') && !declared.includes('head')) declared.splice(declared.indexOf('get') + 1, 0, 'head');
    return { pattern: patternOf(template), allow: declared.map((m) => m.toUpperCase()).join(', ') };
  });
  return (req, res, next) => {
    const entry = table.find((e) => e.pattern.test(req.path));
    if (!entry) {
      next();
      return;
    }
    res
      .status(405)
      .set('Allow', entry.allow)
      .json(errorBody('method_not_allowed', `${req.method} is not allowed on ${req.path}; allowed: ${entry.allow}`));
  };
}
