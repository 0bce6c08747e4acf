/** What a report means while a device that succeeded soaks on the new version. */
import { soakFailure } from '../../domain/progress';

describe('soakFailure', () => {
  it('fails a device that comes back on another version or reports a failure step', () => {
    expect(soakFailure('2.0', { kind: 'version', version: '1.0' })).toEqual({
      code: 'rolled_back',
      reason: 'device came back on version 1.0 during the soak period',
    });
    expect(soakFailure('2.0', { kind: 'progress', step: -4, desc: 'flash' })).toEqual({
      code: '-4',
      reason: 'writing the firmware failed: flash',
    });
  });

  it('lets the target version, progress, and presence pass', () => {
    expect(soakFailure('2.0', { kind: 'version', version: '2.0' })).toBeNull();
    expect(soakFailure('2.0', { kind: 'progress', step: 100, desc: '' })).toBeNull();
    expect(soakFailure('2.0', { kind: 'offline' })).toBeNull();
    expect(soakFailure('2.0', { kind: 'online' })).toBeNull();
  });
});
