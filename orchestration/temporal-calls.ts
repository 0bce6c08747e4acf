/**
 * Operator calls to Temporal with a bounded wait: the client would otherwise
 * retry an unreachable server for about twenty seconds. An outage becomes a
 * typed `unavailable` error (503 with the reason), never an unexplained 500.
 */
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { OtaError } from '../domain/errors';
import { isTemporalUnavailable } from '../runtime/unavailable';

export const OPERATOR_CALL_DEADLINE_MS = 10_000;

export async function withTemporal<T>(client: Client, fn: () => Promise<T>): Promise<T> {
  try {
    return await client.withDeadline(Date.now() + OPERATOR_CALL_DEADLINE_MS, fn);
  } catch (err) {
    if (!isTemporalUnavailable(err)) throw err;
    throw new OtaError('unavailable', 'Temporal is unavailable: nothing was changed; try again shortly');
  }
}

/** true while the workflow runs, false once it has closed, undefined when Temporal never had it. */
export async function isRunning(handle: WorkflowHandle): Promise<boolean | undefined> {
  try {
    return (await handle.describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}
