/** Staged rollout: the first stage's size and what follows it. */
import { firstStageSize, judgeFirstStage, type StageState } from '../../domain/stages';

describe('staged rollout', () => {
  const done = (succeeded: number, finished: number): StageState => ({
    size: finished,
    finished,
    succeeded,
    phase: 'first',
  });

  it('sizes the first stage by count, or by percentage of the task (at least one device)', () => {
    expect(firstStageSize({ devices: 5, successPercent: 100 }, 1000)).toBe(5);
    expect(firstStageSize({ percent: 10, successPercent: 100 }, 1000)).toBe(100);
    expect(firstStageSize({ percent: 10, successPercent: 100 }, 15)).toBe(2);
    expect(firstStageSize({ percent: 1, successPercent: 100 }, 0)).toBe(1);
  });

  it('goes on when enough succeeded, and pauses with the figures when not', () => {
    const stage = { devices: 10, successPercent: 90 };
    expect(judgeFirstStage(stage, done(9, 10), 0)).toEqual({
      kind: 'go_on',
      summary: '9 of 10 first-stage devices succeeded (90%)',
    });
    expect(judgeFirstStage(stage, done(8, 10), 0)).toEqual({
      kind: 'pause',
      reason:
        'first stage below its success threshold: 8 of 10 first-stage devices succeeded (80%), needed 90%; resume to go on anyway',
    });
  });

  it('with approval, waits for the operator until the deadline whatever the figures', () => {
    const verdict = judgeFirstStage({ devices: 3, successPercent: 100, approval: { deadlineHours: 2 } }, done(3, 3), 0);
    expect(verdict).toEqual({
      kind: 'await_approval',
      reason:
        'first stage done: 3 of 3 first-stage devices succeeded (100%); resume to approve the rest by 1970-01-01T02:00:00.000Z, or the task is cancelled then',
      deadlineMs: 2 * 3600_000,
    });
  });
});
