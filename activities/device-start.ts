/**
 * Starting one device's workflow for a task. The workflow id is the device's, so a start fails
 * while any task's workflow holds the device: ours (an earlier try of this activity started
 * it) or another task's (the device is busy, and this task skips it).
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { skipBusyRecord } from '../db/records';
import { deviceWorkflowId } from '../domain/ids';
import type { DeviceStartSettings } from '../domain/rollout';
import { deviceStartOptions } from '../orchestration/device-workflows';
import type { deviceUpgradeWorkflow } from '../workflows/device-upgrade';
import { OtaTaskId } from '../workflows/search-attributes';

/**
 * `started`: a new device workflow; `running`: this task's own, started before; `busy`: another
 * task holds the device and the record says skipped; `settled`: another task holds the device,
 * but the record stopped waiting meanwhile (its own workflow decided it) and was left alone.
 */
export type DeviceStart = 'started' | 'running' | 'busy' | 'settled';

export async function startDeviceWorkflow(
  client: Client,
  db: Db,
  task: DeviceStartSettings,
  deviceKey: string,
  taskQueue: string,
  eager = false,
): Promise<DeviceStart> {
  try {
    await client.workflow.start<typeof deviceUpgradeWorkflow>('deviceUpgradeWorkflow', {
      ...deviceStartOptions(task, deviceKey, taskQueue),
      // The worker that asked takes the first workflow task from the start's answer, without a poll.
      ...(eager && { requestEagerStart: true }),
    });
    return 'started';
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  // Who holds it must be known, not guessed: when Temporal does not answer, the activity is retried.
  const description = await client.workflow
    .getHandle(deviceWorkflowId({ productKey: task.productKey, deviceKey }))
    .describe();
  const holder = description.typedSearchAttributes.get(OtaTaskId) ?? 'another task';
  if (holder === task.taskId) return 'running';
  return (await skipBusyRecord(db, task.taskId, deviceKey, `busy: being upgraded by ${holder}`)) ? 'busy' : 'settled';
}
