/**
 * GET /ui: the operators' web page (task list, progress, detail tabs) and its
 * hand-written files in api/ui/ (no build step, nothing fetched from other
 * hosts). The page is public like /openapi.json: it holds no data and reads
 * /v1 from the browser with the operator's token.
 *
 * The files are found from the project root, not from this module: the build
 * compiles only .ts into dist/, so a `node dist/api/server.js` run reads the
 * same api/ui/ as a run from the sources (the Docker image keeps them too).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Router, type Response } from 'express';
import { PROJECT_ROOT } from '../config/config';

export const UI_DIR = path.join(PROJECT_ROOT, 'api', 'ui');

/** The only files served: no part of a URL ever becomes a file path. */
const CONTENT_TYPES: ReadonlyMap<string, string> = new Map([
  ['index.html', 'text/html; charset=utf-8'],
  ['style.css', 'text/css; charset=utf-8'],
  ['lib.js', 'text/javascript; charset=utf-8'],
  ['charts.js', 'text/javascript; charset=utf-8'],
  ['views.js', 'text/javascript; charset=utf-8'],
  ['task-detail.js', 'text/javascript; charset=utf-8'],
  ['fleet.js', 'text/javascript; charset=utf-8'],
  ['app.js', 'text/javascript; charset=utf-8'],
]);

/** Same-origin scripts, styles and fetches only: no inline code, no other hosts, no framing. */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS = {
  'Content-Security-Policy': UI_CONTENT_SECURITY_POLICY,
  // Revalidate every time (the ETag makes that cheap), so an upgraded service never runs a stale page.
  'Cache-Control': 'no-cache',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** Reads the files once; a missing one stops the API at start rather than serving half a page. */
function loadFiles(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of CONTENT_TYPES.keys()) {
    const file = path.join(dir, name);
    try {
      files.set(name, fs.readFileSync(file));
    } catch (err) {
      throw new Error(`the operators' page is missing ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return files;
}

export function uiRouter(dir: string = UI_DIR): Router {
  const files = loadFiles(dir);
  const send = (res: Response, name: string) => {
    res.set(HEADERS).type(CONTENT_TYPES.get(name) as string);
    res.send(files.get(name));
  };

  const r = Router();
  r.get('/', (_req, res) => res.redirect(302, '/ui'));
  r.get(['/ui', '/ui/'], (_req, res) => send(res, 'index.html'));
  r.get('/ui/:file', (req, res, next) => {
    const name = String(req.params.file);
    if (CONTENT_TYPES.has(name)) send(res, name);
    else next();
  });
  return r;
}
