import { parseBehaviour } from '../../simulator/cli';

describe('simulator CLI', () => {
  it('reads each behaviour from its short form', () => {
    expect(parseBehaviour('succeed', 100)).toEqual({ kind: 'succeed', stepDelayMs: 100 });
    expect(parseBehaviour('fail:-2', 100)).toEqual({ kind: 'fail', code: -2, stepDelayMs: 100 });
    expect(parseBehaviour('decline', 100)).toEqual({ kind: 'decline' });
    expect(parseBehaviour('silent', 100)).toEqual({ kind: 'silent' });
    expect(parseBehaviour('request', 5)).toEqual({ kind: 'request', stepDelayMs: 5 });
    expect(parseBehaviour('slow:30000', 5)).toEqual({ kind: 'slow', downloadMs: 30000, stepDelayMs: 5 });
    expect(parseBehaviour('drop:2000:new', 5)).toEqual({
      kind: 'drop',
      reconnectAfterMs: 2000,
      comeBackOn: 'new',
      stepDelayMs: 5,
    });
    expect(parseBehaviour('offline:60000', 5)).toEqual({
      kind: 'offline',
      forMs: 60000,
      then: { kind: 'succeed', stepDelayMs: 5 },
    });
  });

  it('refuses unknown or incomplete behaviours', () => {
    expect(() => parseBehaviour('explode', 1)).toThrow(/unknown behaviour/);
    expect(() => parseBehaviour('fail', 1)).toThrow(/needs/);
    expect(() => parseBehaviour('drop:100:sideways', 1)).toThrow(/old or/);
  });
});
