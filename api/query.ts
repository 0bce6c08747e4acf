/**
 * Query parameters of the list endpoints, declared once as JSON Schemas: the
 * OpenAPI document lists them from here and the routes parse with them
 * (ajv coerces "50" to 50 and a single `tag` to a list). Unknown
 * parameters are rejected, so a typo such as `productkey` is not silently
 * ignored. Error paths read `query.<name>`.
 */
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import type { Request } from 'express';
import { keyProblem, tagValueProblem } from '../domain/keys';
import type { ErrorDetail } from '../domain/errors';
import { invalidRequest, schemaDetails } from '../domain/validation/compile';
import type { JsonSchema } from '../domain/validation/schemas';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../db/paging';

export interface QueryParam {
  name: string;
  description: string;
  schema: JsonSchema;
}

const str = (maxLength: number): JsonSchema => ({ type: 'string', minLength: 1, maxLength });

export const PAGING_PARAMS: QueryParam[] = [
  {
    name: 'limit',
    description: `Page size, 1–${MAX_PAGE_SIZE}.`,
    schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
  },
  { name: 'cursor', description: 'The nextCursor of the previous page.', schema: str(1024) },
];

export const DEVICE_LIST_PARAMS: QueryParam[] = [
  { name: 'productKey', description: 'Only devices of this product.', schema: str(64) },
  { name: 'version', description: 'Only devices reporting this firmware version.', schema: str(64) },
  {
    name: 'tag',
    description: 'key:value (split at the first colon); repeat for several tags, all must match.',
    schema: { type: 'array', maxItems: 20, items: { type: 'string', pattern: '^[^:]+:.+$' } },
  },
  { name: 'online', description: 'true or false.', schema: { type: 'boolean' } },
  ...PAGING_PARAMS,
];

export const FIRMWARE_LIST_PARAMS: QueryParam[] = [
  { name: 'productKey', description: 'Only firmware of this product.', schema: str(64) },
  ...PAGING_PARAMS,
];

const ajv = new Ajv2020({ allErrors: true, coerceTypes: 'array', useDefaults: true, strict: true });
const compiled = new WeakMap<QueryParam[], ValidateFunction>();

function validatorFor(params: QueryParam[]): ValidateFunction {
  let fn = compiled.get(params);
  if (!fn) {
    fn = ajv.compile({
      type: 'object',
      properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
      additionalProperties: false,
    });
    compiled.set(params, fn);
  }
  return fn;
}

const queryPath = (pointer: string): string => `query.${pointer.replace(/^\//, '')}`;

/** The request's query, checked and coerced; throws invalid_request naming `query.<param>`. */
export function parseQuery<T>(req: Request, params: QueryParam[]): T {
  const value: Record<string, unknown> = { ...(req.query as Record<string, unknown>) };
  const validate = validatorFor(params);
  if (!validate(value)) {
    const details = schemaDetails(validate.errors ?? []).map((d) => ({ ...d, path: queryPath(d.path) }));
    throw invalidRequest(details, 'query');
  }
  return value as T;
}

/** `tag=k:v` values as tag filters, with the same key rules as stored tags. */
export function parseTagParams(raw: readonly string[] | undefined): { key: string; value: string }[] {
  const problems: ErrorDetail[] = [];
  const tags = (raw ?? []).map((entry, i) => {
    const at = entry.indexOf(':');
    const key = entry.slice(0, at);
    const value = entry.slice(at + 1);
    const problem = keyProblem(key) ?? tagValueProblem(value);
    if (problem) problems.push({ path: `query.tag/${i}`, message: problem });
    return { key, value };
  });
  if (problems.length > 0) throw invalidRequest(problems, 'query');
  return tags;
}
