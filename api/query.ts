/**
 * Query parameters of the list endpoints, declared once as JSON Schemas: the
 * OpenAPI document lists them from here and the routes parse with them
 * (ajv coerces "50" to 50 and a single `tag` to a list). Unknown
 * parameters are rejected, so a typo such as `productkey` is not silently
 * ignored. Error paths read `query.<name>`.
 */
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import type { Request } from 'express';
import { MAX_KEY_LENGTH, MAX_TAG_VALUE_LENGTH } from '../domain/keys';
import { invalidRequest, schemaDetails } from '../domain/validation/compile';
import type { JsonSchema } from '../domain/validation/schemas';
import { CURSOR_SEGMENT, DEFAULT_PAGE_SIZE, listCursorPattern, MAX_PAGE_SIZE } from '../db/paging';

export interface QueryParam {
  name: string;
  description: string;
  schema: JsonSchema;
}

/** key:value, split at the first colon; the characters and lengths of stored tag keys and values. */
const TAG_PARAM_PATTERN = `^[^$.:\\u0000-\\u001f\\u007f]{1,${MAX_KEY_LENGTH}}:[^\\u0000-\\u001f\\u007f]{1,${MAX_TAG_VALUE_LENGTH}}$`;

const str = (maxLength: number): JsonSchema => ({ type: 'string', minLength: 1, maxLength });

/**
 * limit and cursor. The cursor's pattern is exactly what the list accepts
 * (`segments`, one per sort key): any string of that shape is a position.
 */
export function pagingParams(segments: readonly string[]): QueryParam[] {
  return [
    {
      name: 'limit',
      description: `Page size, 1–${MAX_PAGE_SIZE}.`,
      schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
    },
    {
      name: 'cursor',
      description: 'The nextCursor of the previous page: the next page starts after the position it names.',
      schema: { ...str(1024), pattern: listCursorPattern(segments) },
    },
  ];
}

/** A cursor of two key values (productKey then deviceKey or version). */
const TWO_KEYS = [CURSOR_SEGMENT, CURSOR_SEGMENT];

export const DEVICE_LIST_PARAMS: QueryParam[] = [
  { name: 'productKey', description: 'Only devices of this product.', schema: str(64) },
  { name: 'version', description: 'Only devices reporting this firmware version.', schema: str(64) },
  {
    name: 'tag',
    description: 'key:value (split at the first colon); repeat for several tags, all must match.',
    schema: { type: 'array', maxItems: 20, items: { type: 'string', pattern: TAG_PARAM_PATTERN } },
  },
  { name: 'online', description: 'true or false.', schema: { type: 'boolean' } },
  ...pagingParams(TWO_KEYS),
];

export const FIRMWARE_LIST_PARAMS: QueryParam[] = [
  { name: 'productKey', description: 'Only firmware of this product.', schema: str(64) },
  ...pagingParams(TWO_KEYS),
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

/**
 * `tag=k:v` values (already matched against TAG_PARAM_PATTERN) as tag
 * filters. They are compared with stored pairs as whole strings, so any key
 * the pattern admits is safe: one no device can carry simply matches nothing.
 */
export function parseTagParams(raw: readonly string[] | undefined): { key: string; value: string }[] {
  return (raw ?? []).map((entry) => {
    const at = entry.indexOf(':');
    return { key: entry.slice(0, at), value: entry.slice(at + 1) };
  });
}
