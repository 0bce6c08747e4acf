/**
 * Validation work grows linearly with the body. Counted, not timed: the two
 * quadratic paths ajv had were pairwise deep-equal calls for uniqueItems over
 * items it could not type, and, with allErrors, copying every error so far
 * each time a referenced schema failed (Array.concat). Both are counted here
 * over a few thousand items, where quadratic work is millions of steps.
 */
import * as ajvEqualModule from 'ajv/dist/runtime/equal';
import { validateAssetTreeBody } from '../../domain/validation/registry';
import { validateRetryRequest, validateUpgradeTaskRequest } from '../../domain/validation/task';
import { isOtaError } from '../../domain/errors';

const N = 5000;
// The module object ajv reads its deep-equal from when it compiles a schema.
const ajvEqual = ajvEqualModule as unknown as { default: (a: unknown, b: unknown) => boolean };

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('validation cost', () => {
  it('checks a list of distinct device keys without comparing pairs', () => {
    const equal = jest.spyOn(ajvEqual, 'default');
    try {
      const keys = Array.from({ length: N }, (_, i) => `dev-${i}`);
      validateRetryRequest({ deviceKeys: keys });
      const req = validateUpgradeTaskRequest({
        firmwareId: 'fw',
        sourceVersions: ['1.0.0'],
        strategy: 'snapshot',
        scope: 'target',
        method: 'push',
        filter: { deviceKeys: keys },
      });
      expect(req.filter?.deviceKeys).toHaveLength(N);
      // Duplicates are still found, by hashing.
      const dup = thrown(() => validateRetryRequest({ deviceKeys: [...keys, 'dev-7'] }));
      expect(isOtaError(dup) && dup.details[0]?.message).toMatch(/duplicate/);
      expect(equal.mock.calls.length).toBeLessThan(N);
    } finally {
      equal.mockRestore();
    }
  });

  it('reports thousands of bad items without copying the errors found so far for each', () => {
    const concat = Array.prototype.concat;
    let copied = 0;
    const spy = jest.spyOn(Array.prototype, 'concat').mockImplementation(function (this: unknown[], ...args) {
      copied += this.length;
      return concat.apply(this, args) as unknown[];
    });
    let err: unknown;
    try {
      err = thrown(() => validateAssetTreeBody({ nodes: Array.from({ length: N }, (_, i) => ({ nodeId: i })) }));
    } finally {
      spy.mockRestore();
    }
    expect(isOtaError(err) && err.code).toBe('invalid_request');
    expect(isOtaError(err) && err.details.length).toBeGreaterThanOrEqual(N);
    expect(copied).toBeLessThan(10 * N);
  });
});
