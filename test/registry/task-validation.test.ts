/** Upgrade task and verification request validation: every rule of domain/validation/task.ts, with the exact field path. */
import { isOtaError, type ErrorDetail } from '../../domain/errors';
import type { Firmware } from '../../domain/types';
import {
  checkTaskAgainstFirmware,
  validateRetryRequest,
  validateUpgradeTaskRequest,
  validateVerificationRequest,
} from '../../domain/validation/task';

const base = {
  firmwareId: 'fw_1',
  sourceVersions: ['1.0'],
  strategy: 'snapshot',
  scope: 'all',
  method: 'push',
};

/** The refusal's code: the schema's invalid_request (400), a rule's unprocessable (422), or the state's conflict (409). */
function refusal(fn: () => unknown): { code: string; details: ErrorDetail[] } {
  try {
    fn();
  } catch (err) {
    if (isOtaError(err) && ['invalid_request', 'unprocessable', 'conflict'].includes(err.code)) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}
const problems = (fn: () => unknown): ErrorDetail[] => refusal(fn).details;
const paths = (fn: () => unknown): string[] => problems(fn).map((d) => d.path);

describe('validateUpgradeTaskRequest', () => {
  it('refuses a schema-valid body that breaks a rule over its fields as unprocessable, a malformed one as invalid', () => {
    expect(refusal(() => validateUpgradeTaskRequest({ ...base, scope: 'target' })).code).toBe('unprocessable');
    expect(refusal(() => validateUpgradeTaskRequest({ ...base, scope: 'some' })).code).toBe('invalid_request');
  });

  it('applies the defaults and keeps the given fields', () => {
    expect(validateUpgradeTaskRequest(base)).toEqual({ ...base, upgradeTimeout: 7200, maxConcurrency: 300 });
    const full = {
      ...base,
      name: 'Spring rollout',
      strategy: 'increment',
      scope: 'target',
      filter: { tags: [{ key: 'site', value: 'berlin' }], assetTrees: [{ treeId: 't1', nodeIds: ['a'] }] },
      schedule: {
        timezone: 'Asia/Shanghai',
        windows: [
          { start: '23:00', end: '01:00' },
          { start: '02:00', end: '04:00' },
        ],
      },
      upgradeTimeout: 300,
      maxConcurrency: 10_000,
      retry: { maxAttempts: 3, intervalSeconds: 0 },
    };
    const req = validateUpgradeTaskRequest(full);
    expect(req.filter?.assetTrees?.[0].includeDescendants).toBe(false);
    expect(req.retry).toEqual({ maxAttempts: 3, intervalSeconds: 0 });
  });

  it.each([
    [
      'method request with scope target',
      { scope: 'target', method: 'request', filter: { deviceKeys: ['d1'] } },
      ['/method'],
    ],
    ['a filter with scope all', { filter: { deviceKeys: ['d1'] } }, ['/filter']],
    ['scope target without a filter', { scope: 'target' }, ['/filter']],
    ['an empty filter', { scope: 'target', filter: {} }, ['/filter']],
    ['an empty deviceKeys list', { scope: 'target', filter: { deviceKeys: [] } }, ['/filter/deviceKeys']],
    [
      'six asset trees',
      {
        scope: 'target',
        filter: { assetTrees: Array.from({ length: 6 }, (_, i) => ({ treeId: `t${i}`, nodeIds: ['a'] })) },
      },
      ['/filter/assetTrees'],
    ],
    ['empty sourceVersions', { sourceVersions: [] }, ['/sourceVersions']],
    ['repeated sourceVersions', { sourceVersions: ['1.0', '1.0'] }, ['/sourceVersions']],
    ['a missing firmwareId', { firmwareId: undefined }, ['/firmwareId']],
    ['an unknown strategy', { strategy: 'rolling' }, ['/strategy']],
    ['an unknown field', { priority: 1 }, ['/priority']],
    ['an unknown filter field', { scope: 'target', filter: { deviceKeys: ['d'], groups: ['g'] } }, ['/filter/groups']],
    ['upgradeTimeout under 300', { upgradeTimeout: 299 }, ['/upgradeTimeout']],
    ['upgradeTimeout over 172800', { upgradeTimeout: 172_801 }, ['/upgradeTimeout']],
    ['maxConcurrency 0', { maxConcurrency: 0 }, ['/maxConcurrency']],
    ['maxConcurrency over 10000', { maxConcurrency: 10_001 }, ['/maxConcurrency']],
    ['retry maxAttempts 11', { retry: { maxAttempts: 11, intervalSeconds: 60 } }, ['/retry/maxAttempts']],
    ['retry without intervalSeconds', { retry: { maxAttempts: 2 } }, ['/retry/intervalSeconds']],
    ['a retry interval over a day', { retry: { maxAttempts: 2, intervalSeconds: 86_401 } }, ['/retry/intervalSeconds']],
    ['an unsafe tag key', { scope: 'target', filter: { tags: [{ key: '$ne', value: 'x' }] } }, ['/filter/tags/0/key']],
    [
      'an unsafe attribute name',
      { scope: 'target', filter: { attributes: [{ name: 'a.b', value: 1 }] } },
      ['/filter/attributes/0/name'],
    ],
    [
      'the same tag key twice',
      {
        scope: 'target',
        filter: {
          tags: [
            { key: 'site', value: 'a' },
            { key: 'site', value: 'b' },
          ],
        },
      },
      ['/filter/tags/1/key'],
    ],
    [
      'the same tree twice',
      {
        scope: 'target',
        filter: {
          assetTrees: [
            { treeId: 't', nodeIds: ['a'] },
            { treeId: 't', nodeIds: ['b'] },
          ],
        },
      },
      ['/filter/assetTrees/1/treeId'],
    ],
    [
      'a window of 29 minutes',
      { schedule: { timezone: 'UTC', windows: [{ start: '02:00', end: '02:29' }] } },
      ['/schedule/windows/0'],
    ],
    [
      'overlapping windows',
      {
        schedule: {
          timezone: 'UTC',
          windows: [
            { start: '01:00', end: '03:00' },
            { start: '02:00', end: '04:00' },
          ],
        },
      },
      ['/schedule/windows/1'],
    ],
    [
      'an unknown time zone',
      { schedule: { timezone: 'Mars/Olympus', windows: [{ start: '01:00', end: '03:00' }] } },
      ['/schedule/timezone'],
    ],
    [
      'a time that is not HH:MM',
      { schedule: { timezone: 'UTC', windows: [{ start: '1:00', end: '03:00' }] } },
      ['/schedule/windows/0/start'],
    ],
    ['a schedule without windows', { schedule: { timezone: 'UTC', windows: [] } }, ['/schedule/windows']],
  ])('rejects %s', (_what, over, expected) => {
    expect(paths(() => validateUpgradeTaskRequest({ ...base, ...over }))).toEqual(expected);
  });

  it('takes an auto-pause policy, defaulting afterDevices, and rejects a share out of range', () => {
    expect(validateUpgradeTaskRequest({ ...base, autoPause: { failurePercent: 12.5 } }).autoPause).toEqual({
      failurePercent: 12.5,
      afterDevices: 10,
    });
    expect(paths(() => validateUpgradeTaskRequest({ ...base, autoPause: { failurePercent: 0 } }))).toEqual([
      '/autoPause/failurePercent',
    ]);
    expect(
      paths(() => validateUpgradeTaskRequest({ ...base, autoPause: { failurePercent: 101, afterDevices: 0 } })),
    ).toEqual(['/autoPause/failurePercent', '/autoPause/afterDevices']);
    expect(paths(() => validateUpgradeTaskRequest({ ...base, autoPause: { afterDevices: 5, abort: true } }))).toEqual([
      '/autoPause/failurePercent',
      '/autoPause/abort',
    ]);
  });

  it('takes a push rate with a ramp, and rejects one upon request or a ramp starting above its ceiling', () => {
    const rateLimit = { perMinute: 100, ramp: { startPerMinute: 10, factor: 2, everySucceeded: 50 } };
    expect(validateUpgradeTaskRequest({ ...base, rateLimit }).rateLimit).toEqual(rateLimit);
    expect(
      paths(() => validateUpgradeTaskRequest({ ...base, method: 'request', rateLimit: { perMinute: 5 } })),
    ).toEqual(['/rateLimit']);
    expect(
      paths(() =>
        validateUpgradeTaskRequest({
          ...base,
          rateLimit: { perMinute: 5, ramp: { startPerMinute: 10, factor: 2, everySucceeded: 1 } },
        }),
      ),
    ).toEqual(['/rateLimit/ramp/startPerMinute']);
    expect(
      paths(() =>
        validateUpgradeTaskRequest({
          ...base,
          rateLimit: { perMinute: 0, ramp: { startPerMinute: 1, factor: 1, everySucceeded: 1 } },
        }),
      ),
    ).toEqual(['/rateLimit/perMinute', '/rateLimit/ramp/factor']);
  });

  it('takes a first stage sized by devices or percent, for push tasks only', () => {
    expect(validateUpgradeTaskRequest({ ...base, firstStage: { percent: 5 } }).firstStage).toEqual({
      percent: 5,
      successPercent: 100,
    });
    expect(paths(() => validateUpgradeTaskRequest({ ...base, firstStage: { successPercent: 90 } }))).toEqual([
      '/firstStage',
    ]);
    expect(paths(() => validateUpgradeTaskRequest({ ...base, firstStage: { devices: 5, percent: 5 } }))).toEqual([
      '/firstStage',
    ]);
    expect(paths(() => validateUpgradeTaskRequest({ ...base, method: 'request', firstStage: { devices: 5 } }))).toEqual(
      ['/firstStage'],
    );
    expect(
      paths(() => validateUpgradeTaskRequest({ ...base, firstStage: { devices: 0, approval: { deadlineHours: 0 } } })),
    ).toEqual(['/firstStage/devices', '/firstStage/approval/deadlineHours']);
  });

  it('takes a soak period of 1 minute to 7 days', () => {
    expect(validateUpgradeTaskRequest({ ...base, soakMinutes: 60 }).soakMinutes).toBe(60);
    expect(paths(() => validateUpgradeTaskRequest({ ...base, soakMinutes: 0 }))).toEqual(['/soakMinutes']);
    expect(paths(() => validateUpgradeTaskRequest({ ...base, soakMinutes: 10_081 }))).toEqual(['/soakMinutes']);
  });

  describe('endTime', () => {
    const now = Date.parse('2026-11-29T12:00:00Z');
    const increment = { ...base, strategy: 'increment' };

    it('is kept for an increment task ending in the future, in any time zone offset', () => {
      const req = validateUpgradeTaskRequest({ ...increment, endTime: '2026-11-30T08:00:00+08:00' }, now);
      expect(req.endTime).toBe('2026-11-30T08:00:00+08:00');
    });

    it.each([
      ['on a snapshot task', { ...base, endTime: '2026-12-01T00:00:00Z' }, 'only for increment tasks'],
      ['in the past', { ...increment, endTime: '2026-11-29T11:59:59Z' }, 'must be in the future'],
      ['not a date-time', { ...increment, endTime: '2026-12-01' }, 'must be a date-time with a time zone'],
      ['without a time zone', { ...increment, endTime: '2026-12-01T00:00:00' }, 'must be a date-time with a time zone'],
    ])('is rejected %s, at /endTime', (_what, body, message) => {
      const details = problems(() => validateUpgradeTaskRequest(body, now));
      expect(details).toEqual([{ path: '/endTime', message: expect.stringContaining(message) }]);
    });
  });

  it('accepts a window over midnight and a body that is not an object is a 400 at the root', () => {
    expect(() =>
      validateUpgradeTaskRequest({
        ...base,
        schedule: { timezone: 'Europe/Berlin', windows: [{ start: '23:30', end: '00:30' }] },
      }),
    ).not.toThrow();
    expect(paths(() => validateUpgradeTaskRequest([base]))).toEqual(['']);
  });
});

describe('checkTaskAgainstFirmware', () => {
  const fw: Firmware = {
    firmwareId: 'fw_1',
    productKey: 'pk1',
    version: '2.0',
    name: '2.0',
    description: '',
    fileUrl: 'https://x/y.bin',
    fileSize: 10,
    signMethod: 'md5',
    sign: 'a'.repeat(32),
    verified: true,
    createdAt: '2026-01-01T00:00:00.000Z',
  };
  const req = validateUpgradeTaskRequest({ ...base, sourceVersions: ['1.0', '2.0'] });

  it('refuses as a conflict with the stored firmware, never as a malformed body', () => {
    expect(refusal(() => checkTaskAgainstFirmware(req, null)).code).toBe('conflict');
    expect(refusal(() => checkTaskAgainstFirmware(req, { ...fw, verified: false })).code).toBe('conflict');
    expect(refusal(() => checkTaskAgainstFirmware(req, fw)).code).toBe('conflict');
  });

  it('names unknown and unverified firmware, and a source version equal to the target', () => {
    expect(problems(() => checkTaskAgainstFirmware(req, null))).toEqual([
      { path: '/firmwareId', message: 'firmware "fw_1" does not exist' },
    ]);
    const unverified = problems(() =>
      checkTaskAgainstFirmware({ ...req, sourceVersions: ['1.0'] }, { ...fw, verified: false }),
    );
    expect(unverified[0]).toMatchObject({ path: '/firmwareId', message: expect.stringContaining('not verified') });
    expect(paths(() => checkTaskAgainstFirmware(req, fw))).toEqual(['/sourceVersions/1']);
    expect(() => checkTaskAgainstFirmware({ ...req, sourceVersions: ['1.0'] }, fw)).not.toThrow();
  });
});

describe('validateVerificationRequest and validateRetryRequest', () => {
  it('takes 1 to 5 distinct devices and defaults the timeout', () => {
    expect(validateVerificationRequest({ deviceKeys: ['a', 'b'] })).toEqual({
      deviceKeys: ['a', 'b'],
      upgradeTimeout: 7200,
    });
    expect(paths(() => validateVerificationRequest({ deviceKeys: [] }))).toEqual(['/deviceKeys']);
    expect(paths(() => validateVerificationRequest({ deviceKeys: ['a', 'b', 'c', 'd', 'e', 'f'] }))).toEqual([
      '/deviceKeys',
    ]);
    expect(paths(() => validateVerificationRequest({ deviceKeys: ['a', 'a'] }))).toEqual(['/deviceKeys']);
    expect(paths(() => validateVerificationRequest({ deviceKeys: ['a'], upgradeTimeout: 10 }))).toEqual([
      '/upgradeTimeout',
    ]);
    expect(paths(() => validateVerificationRequest({ deviceKeys: ['a'], force: true }))).toEqual(['/force']);
  });

  it('retries all failed devices without a body, or the named ones', () => {
    expect(validateRetryRequest(undefined)).toEqual({});
    expect(validateRetryRequest({ deviceKeys: ['d1'] })).toEqual({ deviceKeys: ['d1'] });
    expect(paths(() => validateRetryRequest({ all: true }))).toEqual(['/all']);
  });
});
