/** GET /openapi.json: the document, open without a token (it holds no data). */
import { Router } from 'express';
import { buildOpenApiDocument } from './document';

export function openApiRouter(): Router {
  const body = JSON.stringify(buildOpenApiDocument());
  const r = Router();
  r.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(body);
  });
  return r;
}
