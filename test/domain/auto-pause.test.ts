/** When a task pauses itself: the failure share of finished devices, once enough have finished. */
import { autoPauseReason } from '../../domain/auto-pause';

describe('autoPauseReason', () => {
  const policy = { failurePercent: 20, afterDevices: 10 };

  it('waits until enough devices have finished', () => {
    expect(autoPauseReason(policy, { succeeded: 0, failed: 9 })).toBeNull();
    expect(autoPauseReason(policy, { succeeded: 0, failed: 0 })).toBeNull();
    expect(autoPauseReason({ failurePercent: 50, afterDevices: 1 }, { succeeded: 0, failed: 0 })).toBeNull();
  });

  it('pauses at the threshold, not below it, and says why', () => {
    expect(autoPauseReason(policy, { succeeded: 9, failed: 2 })).toBeNull(); // 18.2%
    expect(autoPauseReason(policy, { succeeded: 8, failed: 2 })).toBe(
      'auto-paused: 2 of 10 finished devices failed (20%, threshold 20%)',
    );
    expect(autoPauseReason({ failurePercent: 33.3, afterDevices: 3 }, { succeeded: 2, failed: 1 })).toBe(
      'auto-paused: 1 of 3 finished devices failed (33.3%, threshold 33.3%)',
    );
  });
});
