/**
 * Shape limits of a JSON request body, checked on the raw bytes before they
 * are parsed: nesting depth and the number of items in any one array. One
 * pass, constant work per byte and no recursion, so a hostile body costs
 * time linear in its size and never reaches the parser, the schema validator
 * or structuredClone (which throws RangeError on deep nesting).
 */

export interface JsonShapeLimits {
  /** Deepest nesting of arrays and objects; the top-level value is depth 1. */
  maxDepth: number;
  /** Most items in one array. */
  maxArrayItems: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const isSpace = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;

/**
 * The first limit the body breaks, as a sentence, or null. Malformed JSON is
 * left to the parser: this scan only counts brackets and commas outside strings.
 */
export function jsonShapeProblem(body: Uint8Array, limits: JsonShapeLimits): string | null {
  // Per open container: -1 for an object, else the items seen so far in that array.
  const items: number[] = [];
  let inString = false;
  let escaped = false;
  for (let i = 0; i < body.length; i += 1) {
    const b = body[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (b === BACKSLASH) escaped = true;
      else if (b === QUOTE) inString = false;
      continue;
    }
    if (b === QUOTE) {
      inString = true;
      countFirstItem(items);
    } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      countFirstItem(items);
      if (items.length >= limits.maxDepth) return `nests deeper than ${limits.maxDepth} levels`;
      items.push(b === OPEN_ARRAY ? 0 : -1);
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
      items.pop();
    } else if (b === COMMA) {
      const top = items.length - 1;
      if (top >= 0 && items[top] >= 0) {
        items[top] += 1;
        if (items[top] > limits.maxArrayItems) return `has an array of more than ${limits.maxArrayItems} items`;
      }
    } else if (!isSpace(b)) {
      countFirstItem(items);
    }
  }
  return null;
}

/** An array's first item has no comma before it: count it when it starts. */
function countFirstItem(items: number[]): void {
  const top = items.length - 1;
  if (top >= 0 && items[top] === 0) items[top] = 1;
}
