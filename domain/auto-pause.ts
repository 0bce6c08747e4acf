/**
 * Auto-pause: a task stops itself when too many of its devices fail, so a bad
 * firmware reaches a handful of devices, not the fleet (hawkBit's error
 * threshold, AWS IoT's abort criteria; here it pauses, and an operator who has
 * looked resumes). Pure, for the task workflow and its tests.
 */

export interface AutoPausePolicy {
  /** Pause when failed devices reach this share of finished ones, in percent (0 < p ≤ 100). */
  failurePercent: number;
  /** Judge only once at least this many devices have finished (default 10): one early failure is no trend. */
  afterDevices: number;
}

/** Devices that succeeded or failed since the task started or was last resumed. */
export interface Tally {
  succeeded: number;
  failed: number;
}

export const emptyTally = (): Tally => ({ succeeded: 0, failed: 0 });

/** Why the task should pause now, or null. */
export function autoPauseReason(policy: AutoPausePolicy, tally: Tally): string | null {
  const finished = tally.succeeded + tally.failed;
  if (finished === 0 || finished < policy.afterDevices) return null;
  const percent = (tally.failed / finished) * 100;
  if (percent < policy.failurePercent) return null;
  return (
    `auto-paused: ${tally.failed} of ${finished} finished devices failed ` +
    `(${Number(percent.toFixed(1))}%, threshold ${policy.failurePercent}%)`
  );
}
