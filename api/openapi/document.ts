/**
 * The OpenAPI 3.1 document of contract v1, assembled from the schemas the
 * API validates with (domain/validation/schemas.ts) and the resource schemas.
 */
import { REQUEST_SCHEMAS, type JsonSchema } from '../../domain/validation/schemas';
import { withLinks } from './links';
import { PATHS } from './paths';
import { RESOURCE_SCHEMAS } from './resources';

const OPEN = { security: [] };

export function buildOpenApiDocument(): JsonSchema {
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'OTA firmware upgrades (EnOS-compatible)',
      version: '1.0.0',
      description:
        'Durable batch firmware upgrades for IoT fleets. Errors: {error: {code, message, details: [{path, message}]}}. ' +
        'Lists: {items, nextCursor} with limit (≤ 500) and cursor. With OTA_API_TOKEN set, /v1 needs a bearer token.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths: {
      '/healthz': {
        get: {
          summary: 'State of each dependency (503 when one is down).',
          tags: ['operations'],
          ...OPEN,
          responses: { 200: { description: 'All dependencies up.' }, 503: { description: 'A dependency is down.' } },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document.',
          tags: ['operations'],
          ...OPEN,
          responses: { 200: { description: 'The OpenAPI 3.1 document.' } },
        },
      },
      ...withLinks(PATHS),
    },
    components: {
      schemas: { ...REQUEST_SCHEMAS, ...RESOURCE_SCHEMAS },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
  };
}
