/**
 * Rules for user-given names that end up as MongoDB field names or array
 * entries (tag keys, attribute names), and the flattened "pair" encoding the
 * registry stores next to the maps. Pure and workflow-safe.
 *
 * Why pairs: FerretDB 1.24 (the embedded database) cannot run `$elemMatch`
 * with field conditions, so `tags: {k: v}` is also stored as
 * `tagPairs: ["k\u001fv"]` and queried with plain array containment / `$all`,
 * which both FerretDB and MongoDB index (multikey).
 */
import type { Scalar } from './types';

/** Unit separator: a control character, which keys may never contain, so a pair splits unambiguously. */
export const PAIR_SEPARATOR = '\u001f';

export const MAX_KEY_LENGTH = 64;
export const MAX_TAG_VALUE_LENGTH = 256;

/**
 * No `$` or `.` (they would become operators or paths in MongoDB), no control
 * characters, and not a name JavaScript treats as the prototype chain.
 * Kept as a source string so the JSON Schemas use the very same rule.
 */
export const SAFE_KEY_PATTERN = '^(?!(?:__proto__|constructor|prototype)$)[^$.\\u0000-\\u001f\\u007f]+$';
/** Values: any printable text (no control characters). */
export const SAFE_TEXT_PATTERN = '^[^\\u0000-\\u001f\\u007f]*$';
/** productKey, deviceKey: they appear in MQTT topics, so no `/`, `+`, `#` or spaces. */
export const IDENTIFIER_PATTERN = '^[A-Za-z0-9_.:@-]+$';
export const MAX_IDENTIFIER_LENGTH = 64;
/** Firmware versions as devices report them: printable ASCII without spaces. */
export const VERSION_PATTERN = '^[\\u0021-\\u007e]+$';
export const MAX_VERSION_LENGTH = 64;

const SAFE_KEY = new RegExp(SAFE_KEY_PATTERN, 'u');
const SAFE_TEXT = new RegExp(SAFE_TEXT_PATTERN, 'u');

/** Why `key` cannot be used as a tag key or attribute name, or null when it can. */
export function keyProblem(key: string): string | null {
  if (key.length === 0) return 'must not be empty';
  if (key.length > MAX_KEY_LENGTH) return `must be at most ${MAX_KEY_LENGTH} characters`;
  if (!SAFE_KEY.test(key)) return 'must not contain "$", "." or control characters, nor be a reserved name';
  return null;
}

/** Why `value` cannot be used as a tag value, or null when it can. */
export function tagValueProblem(value: string): string | null {
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_TAG_VALUE_LENGTH) return `must be at most ${MAX_TAG_VALUE_LENGTH} characters`;
  if (!SAFE_TEXT.test(value)) return 'must not contain control characters';
  return null;
}

export function tagPair(key: string, value: string): string {
  return `${key}${PAIR_SEPARATOR}${value}`;
}

/** JSON keeps the type: attribute 1 (number) and "1" (string) are different values. */
export function attrPair(name: string, value: Scalar): string {
  return `${name}${PAIR_SEPARATOR}${JSON.stringify(value)}`;
}

export function tagPairs(tags: Record<string, string>): string[] {
  return Object.entries(tags).map(([k, v]) => tagPair(k, v));
}

export function attrPairs(attributes: Record<string, Scalar>): string[] {
  return Object.entries(attributes).map(([k, v]) => attrPair(k, v));
}
