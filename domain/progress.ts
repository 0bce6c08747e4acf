/**
 * How a device's reports turn into an outcome (docs/behaviour.md, "Failure codes"), as pure
 * functions the device workflow applies to each report it receives.
 */
import type { Failure } from './types';

/** EnOS progress failure codes (the device's negative progress steps). */
const FAILURE_REASONS: Record<number, string> = {
  [-1]: 'upgrade failed',
  [-2]: 'firmware download failed',
  [-3]: 'firmware verification (signature) failed',
  [-4]: 'writing the firmware failed',
  [-5]: 'device declined the upgrade',
};

export function progressFailure(step: number, desc: string): Failure {
  const known = FAILURE_REASONS[step];
  const reason = known
    ? desc && desc !== String(step)
      ? `${known}: ${desc}`
      : known
    : desc || 'device-defined failure';
  return { code: String(step), reason };
}

export const TIMEOUT_FAILURE = (seconds: number): Failure => ({
  code: 'timeout',
  reason: `no success or failure reported within ${seconds} s of the push`,
});

export const versionMismatch = (reported: string, target: string): Failure => ({
  code: 'version_mismatch',
  reason: `device came back on version ${reported}, expected ${target}`,
});

/**
 * A report while a device that succeeded soaks (stays on the new version for
 * the task's soak period before its success counts): a version other than
 * the target means it rolled back, a negative step that it failed after all.
 */
export function soakFailure(targetVersion: string, report: Report): Failure | null {
  if (report.kind === 'version' && report.version !== targetVersion) {
    return { code: 'rolled_back', reason: `device came back on version ${report.version} during the soak period` };
  }
  if (report.kind === 'progress' && report.step < 0) return progressFailure(report.step, report.desc);
  return null;
}

/**
 * Whether a device's report is news to a run that was already told the upgrade succeeded (its
 * progress reached 100): the target version reported after that is the same success, so it
 * changes nothing (a soak fails only on another version, above). Anything else may.
 */
export function newsAfterSuccess(targetVersion: string, report: Report): boolean {
  return !(report.kind === 'version' && report.version === targetVersion);
}

export type Report =
  | { kind: 'progress'; step: number; desc: string }
  | { kind: 'version'; version: string }
  /** `sessionSince`: which session connected, when the gateway said (not for a registry re-check's). */
  | { kind: 'online'; sessionSince?: number }
  | { kind: 'offline' };

export interface UpgradeView {
  targetVersion: string;
  /** The device has started to report progress for this attempt. */
  started: boolean;
}

export type Verdict =
  | { kind: 'success'; how: string }
  | { kind: 'failure'; failure: Failure }
  | { kind: 'progress'; progress: number }
  | { kind: 'repush' }
  | { kind: 'none' };

/**
 * One report's meaning. "Success" is progress 100 or the target version
 * reported; a version other than the target counts as failure only once the
 * upgrade has started (a device that merely re-informs its current version
 * after a reconnect, before taking the command, is pushed again instead).
 */
export function judge(view: UpgradeView, report: Report): Verdict {
  switch (report.kind) {
    case 'progress':
      if (report.step < 0) return { kind: 'failure', failure: progressFailure(report.step, report.desc) };
      if (report.step >= 100) return { kind: 'success', how: 'progress 100' };
      return { kind: 'progress', progress: report.step };
    case 'version':
      if (report.version === view.targetVersion) return { kind: 'success', how: `reported version ${report.version}` };
      if (view.started) return { kind: 'failure', failure: versionMismatch(report.version, view.targetVersion) };
      return { kind: 'none' };
    case 'online':
      return view.started ? { kind: 'none' } : { kind: 'repush' };
    case 'offline':
      return { kind: 'none' };
  }
}
