/**
 * Identifiers that carry meaning. The device workflow id is derived from the
 * device alone, so "one upgrade per device at a time" is enforced by Temporal
 * (a second start fails) and the gateway can address it without a lookup.
 */
import type { DeviceRef } from './types';

export function deviceWorkflowId(device: DeviceRef): string {
  return `ota-dev-${device.productKey}-${device.deviceKey}`;
}

/** The task workflow's id is the task id itself. */
export function taskWorkflowId(taskId: string): string {
  return taskId;
}

/**
 * Unique per task, device and attempt: a redelivery of the same attempt (after a
 * reconnect, or an activity retry after a crash) repeats the same id, so a
 * device or an operator can recognise it as the same command.
 */
export function commandId(taskId: string, deviceKey: string, attempt: number): string {
  return `${taskId}.${deviceKey}.${attempt}`;
}
