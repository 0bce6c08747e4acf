/**
 * Compiles the request schemas with ajv (draft 2020-12) and turns ajv's
 * errors into the API's details: one `{path, message}` per problem, with the
 * path of the offending field (for unknown or missing fields, the field
 * itself rather than its parent object).
 */
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { conflict, invalid, unprocessable, type ErrorDetail } from '../errors';
import { REQUEST_SCHEMAS, type JsonSchema, type RequestSchemaName } from './schemas';

function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: true,
    useDefaults: true,
    verbose: true,
    strict: true,
    // Conditions such as "if productKey is given, deviceKey is required" name properties defined beside them.
    strictRequired: false,
    allowUnionTypes: true,
  });
  addFormats(ajv, ['uri', 'uri-reference', 'date-time']);
  // Our annotation: readable pattern reasons.
  ajv.addVocabulary(['x-message']);
  return ajv;
}

const REF_PREFIX = '#/components/schemas/';

/**
 * The schema with every $ref replaced by the schema it names (ours never
 * recurse). ajv compiles a $ref into a call whose errors it appends with
 * Array.concat, copying all errors so far: with allErrors, a long array of
 * bad items then costs time quadratic in its length. Inline, each error is
 * pushed once and validation stays linear in the input.
 */
export function inlineRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(inlineRefs);
  if (typeof schema !== 'object' || schema === null) return schema;
  const { $ref, ...rest } = schema as JsonSchema;
  const own = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, inlineRefs(v)]));
  if (typeof $ref !== 'string') return own;
  const name = $ref.startsWith(REF_PREFIX) ? $ref.slice(REF_PREFIX.length) : '';
  const target = (REQUEST_SCHEMAS as Record<string, JsonSchema>)[name];
  if (!target) throw new Error(`request schema ${$ref} does not exist`);
  return { ...(inlineRefs(target) as JsonSchema), ...own };
}

let shared: Ajv2020 | undefined;
const compiled = new Map<RequestSchemaName, ValidateFunction>();

function validatorFor(name: RequestSchemaName): ValidateFunction {
  let fn = compiled.get(name);
  if (!fn) {
    shared ??= createAjv();
    fn = shared.compile(inlineRefs(REQUEST_SCHEMAS[name]) as JsonSchema);
    compiled.set(name, fn);
  }
  return fn;
}

/** JSON-pointer escaping, so a key containing "/" or "~" still names one field. */
export function pointerSegment(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

function detailOf(err: ErrorObject): ErrorDetail | null {
  const at = err.instancePath;
  // Wrapper errors repeat what the inner errors already say.
  if (['if', 'propertyNames', 'allOf'].includes(err.keyword)) return null;
  if (err.propertyName !== undefined) {
    return { path: `${at}/${pointerSegment(err.propertyName)}`, message: `invalid key: ${messageOf(err)}` };
  }
  if (err.keyword === 'additionalProperties') {
    const field = String((err.params as { additionalProperty: string }).additionalProperty);
    return { path: `${at}/${pointerSegment(field)}`, message: 'unknown field' };
  }
  if (err.keyword === 'required') {
    const field = String((err.params as { missingProperty: string }).missingProperty);
    return { path: `${at}/${pointerSegment(field)}`, message: 'is required' };
  }
  if (err.keyword === 'dependentRequired') {
    const { property, missingProperty } = err.params as { property: string; missingProperty: string };
    return { path: `${at}/${pointerSegment(missingProperty)}`, message: `is required together with ${property}` };
  }
  return { path: at, message: messageOf(err) };
}

function messageOf(err: ErrorObject): string {
  const custom = (err.parentSchema as JsonSchema | undefined)?.['x-message'];
  if ((err.keyword === 'pattern' || err.keyword === 'format') && typeof custom === 'string') return custom;
  if (err.keyword === 'enum') {
    return `must be one of ${(err.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return err.message ?? 'is invalid';
}

/** Distinct details, in the order ajv found them. */
export function schemaDetails(errors: readonly ErrorObject[], prefix = ''): ErrorDetail[] {
  const seen = new Set<string>();
  const details: ErrorDetail[] = [];
  for (const err of errors) {
    const d = detailOf(err);
    if (!d) continue;
    const detail = { path: `${prefix}${d.path}`, message: d.message };
    const key = `${detail.path}\n${detail.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      details.push(detail);
    }
  }
  return details;
}

/** The invalid_request error for a list of details, with the first problem in the message. */
export function invalidRequest(details: ErrorDetail[], what = 'request body'): Error {
  return invalid(`invalid ${what}: ${summaryOf(details)}`, details);
}

function summaryOf(details: ErrorDetail[]): string {
  const first = details[0];
  const summary = first ? `${first.path || '(body)'} ${first.message}` : 'is invalid';
  return details.length > 1 ? `${summary} (and ${details.length - 1} more problem(s))` : summary;
}

/** A body that fits its schema but breaks a rule over its own fields (422). */
export function unprocessableRequest(details: ErrorDetail[]): Error {
  return unprocessable(`request breaks a rule: ${summaryOf(details)}`, details);
}

/** A body that fits its schema and its own rules, but that the stored state refuses (409). */
export function refusedByState(details: ErrorDetail[]): Error {
  return conflict(`refused by the current state: ${summaryOf(details)}`, details);
}

/**
 * Checks `input` against a named schema. Returns the details (empty when
 * valid) and the checked value: a copy with the schema's defaults applied.
 */
export function checkSchema<T>(name: RequestSchemaName, input: unknown): { value: T; details: ErrorDetail[] } {
  const value = structuredClone(input);
  const validate = validatorFor(name);
  if (validate(value)) return { value: value as T, details: [] };
  return { value: value as T, details: schemaDetails(validate.errors ?? []) };
}

/** Like checkSchema, but throws invalid_request when the value does not fit. */
export function parseWithSchema<T>(name: RequestSchemaName, input: unknown): T {
  const { value, details } = checkSchema<T>(name, input);
  if (details.length > 0) throw invalidRequest(details);
  return value;
}
