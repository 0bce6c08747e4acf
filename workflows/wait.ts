/** `condition` with an optional deadline: resolves true when `fn` holds, false when `untilMs` passes first. */
import * as wf from '@temporalio/workflow';

export async function waitFor(fn: () => boolean, untilMs?: number): Promise<boolean> {
  if (untilMs === undefined || !Number.isFinite(untilMs)) {
    await wf.condition(fn);
    return true;
  }
  return wf.condition(fn, Math.max(1, untilMs - Date.now()));
}
