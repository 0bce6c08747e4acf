/**
 * Identifiers that carry meaning. The device workflow id is derived from the
 * device alone, so "one upgrade per device at a time" is enforced by Temporal
 * (a second start fails) and the gateway can address it without a lookup.
 */
import type { DeviceRef } from './types';

export function deviceWorkflowId(device: DeviceRef): string {
  // Both keys may contain "-" (and "." ":" "@" "_"): joined plainly, device ("x-y", "z") and
  // device ("x", "y-z") would be one workflow. The product key's length, which holds no "-",
  // says where it ends, so two different devices never share an id.
  return `ota-dev-${device.productKey.length}-${device.productKey}-${device.deviceKey}`;
}

/** The task workflow's id is the task id itself. */
export function taskWorkflowId(taskId: string): string {
  return taskId;
}

/**
 * Unique per task, device and attempt. Unambiguous although a device key may
 * contain "." itself: task ids (newTaskId) never do, and the attempt is the
 * part after the last ".". A redelivery of the same attempt (after a
 * reconnect, or an activity retry after a crash) repeats the same id, so a
 * device or an operator can recognise it as the same command.
 */
export function commandId(taskId: string, deviceKey: string, attempt: number): string {
  return `${taskId}.${deviceKey}.${attempt}`;
}
