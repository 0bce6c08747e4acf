/**
 * A signal for a workflow that may have closed (or never run): a closed task
 * or a device with no upgrade in progress has nothing to be told. Returns
 * whether the workflow got it; any other failure is the caller's.
 */
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';

export async function signalIfRunning<Args extends unknown[]>(
  handle: WorkflowHandle,
  signal: SignalDefinition<Args> | string,
  ...args: Args
): Promise<boolean> {
  try {
    await handle.signal(signal, ...args);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
