/**
 * Staged rollout: a push task upgrades a first stage of devices, then the
 * rest only once that stage has gone well (Mender's phased rollout, hawkBit's
 * success-gated groups): automatically when enough of it succeeded, or when an
 * operator approves by resuming the task, before a deadline. Pure, for the
 * task workflow and its tests.
 */

export interface FirstStage {
  /** The stage's size: a number of devices, or a percentage of those in the task when it starts. */
  devices?: number;
  percent?: number;
  /** The share of the stage that must succeed to go on (default 100). */
  successPercent: number;
  /** Wait for an operator (resume) instead of going on by itself; cancel the task if none comes in time. */
  approval?: { deadlineHours: number };
}

/** Where a staged task is: upgrading the first stage, waiting for approval, or past it. */
export interface StageState {
  size: number;
  /** First-stage devices that succeeded or failed. */
  finished: number;
  succeeded: number;
  phase: 'first' | 'awaiting_approval' | 'rest';
  /** When an unapproved stage cancels the task. */
  deadlineMs?: number;
}

export function firstStageSize(stage: FirstStage, devicesInTask: number): number {
  if (stage.devices !== undefined) return stage.devices;
  return Math.max(1, Math.ceil(((stage.percent ?? 100) * devicesInTask) / 100));
}

export type StageVerdict =
  | { kind: 'go_on'; summary: string }
  | { kind: 'pause'; reason: string }
  | { kind: 'await_approval'; reason: string; deadlineMs: number };

/** What follows a finished first stage. */
export function judgeFirstStage(stage: FirstStage, state: StageState, nowMs: number): StageVerdict {
  const percent = state.finished === 0 ? 0 : (state.succeeded / state.finished) * 100;
  const summary = `${state.succeeded} of ${state.finished} first-stage devices succeeded (${Number(percent.toFixed(1))}%)`;
  if (stage.approval) {
    const deadlineMs = nowMs + stage.approval.deadlineHours * 3600_000;
    return {
      kind: 'await_approval',
      reason: `first stage done: ${summary}; resume to approve the rest by ${new Date(deadlineMs).toISOString()}, or the task is cancelled then`,
      deadlineMs,
    };
  }
  if (percent >= stage.successPercent) return { kind: 'go_on', summary };
  return {
    kind: 'pause',
    reason: `first stage below its success threshold: ${summary}, needed ${stage.successPercent}%; resume to go on anyway`,
  };
}
