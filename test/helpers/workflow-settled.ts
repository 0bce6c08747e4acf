/**
 * Positive signals that a workflow has handled what was sent to it, so a test
 * can then assert that something did NOT happen without sleeping first.
 */
import type { Client } from '@temporalio/client';

/** How many `signalName` signals the workflow's history holds. */
export async function signalCount(client: Client, workflowId: string, signalName: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === signalName)
    .length;
}

/** True when the workflow has no workflow task and no activity in flight: all it was sent is handled. */
export async function isSettled(client: Client, workflowId: string): Promise<boolean> {
  const { raw } = await client.workflow.getHandle(workflowId).describe();
  return !raw.pendingWorkflowTask && (raw.pendingActivities ?? []).length === 0;
}

/** Polls until the workflow has received more than `before` `signalName` signals and handled them all. */
export async function signalHandled(
  client: Client,
  workflowId: string,
  signalName: string,
  before: number,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!((await signalCount(client, workflowId, signalName)) > before && (await isSettled(client, workflowId)))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${workflowId} to handle a ${signalName} signal`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
