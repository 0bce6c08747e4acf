/**
 * Starting a device upgrade workflow for one device of one task, the same way
 * from the task's starter activity (push) and from the gateway (upon device
 * request): the same id, input, search attributes and Web UI summary.
 */
import type { WorkflowStartOptions } from '@temporalio/client';
import type { DeviceUpgradeInput } from '../workflows/messages';
import type { DeviceStartSettings } from '../domain/rollout';
import { deviceWorkflowId } from '../domain/ids';
import type { deviceUpgradeWorkflow } from '../workflows/device-upgrade';
import { OtaDeviceKey, OtaFirmwareVersion, OtaProductKey, OtaStatus, OtaTaskId } from '../workflows/search-attributes';

/** How long an offer made upon device request stays open for the device to take it up. */
export const OFFER_TTL_S = 600;

export function deviceUpgradeInput(task: DeviceStartSettings, deviceKey: string): DeviceUpgradeInput {
  return {
    taskId: task.taskId,
    kind: task.kind,
    strategy: task.strategy,
    productKey: task.productKey,
    deviceKey,
    firmwareId: task.firmwareId,
    firmware: task.firmware,
    method: task.method,
    upgradeTimeoutS: task.upgradeTimeout,
    ...(task.schedule ? { schedule: task.schedule } : {}),
    ...(task.retry ? { retry: task.retry } : {}),
    offerTtlS: Math.min(OFFER_TTL_S, task.upgradeTimeout),
    maxConcurrency: task.maxConcurrency,
    ...(task.soakMinutes ? { soakS: task.soakMinutes * 60 } : {}),
  };
}

export function deviceStartOptions(
  task: DeviceStartSettings,
  deviceKey: string,
  taskQueue: string,
): WorkflowStartOptions<typeof deviceUpgradeWorkflow> {
  const device = { productKey: task.productKey, deviceKey };
  return {
    workflowId: deviceWorkflowId(device),
    taskQueue,
    args: [deviceUpgradeInput(task, deviceKey)],
    typedSearchAttributes: [
      { key: OtaTaskId, value: task.taskId },
      { key: OtaProductKey, value: task.productKey },
      { key: OtaDeviceKey, value: deviceKey },
      { key: OtaFirmwareVersion, value: task.firmware.version },
      { key: OtaStatus, value: 'to_be_pushed' },
    ],
    staticSummary: `${task.method === 'push' ? 'Push' : 'Offer'} firmware ${task.firmware.version} to ${task.productKey}/${deviceKey} (${task.kind} ${task.taskId})`,
    staticDetails: [
      `Upgrades device **${task.productKey}/${deviceKey}** to firmware **${task.firmware.version}** (${task.firmwareId}).`,
      `Part of ${task.kind === 'verification' ? 'verification' : 'upgrade task'} **${task.taskId}** (${task.strategy}, ${task.method}).`,
      'Waits for the device and the schedule window without holding worker resources, then follows progress until success, failure or timeout.',
    ].join('\n\n'),
  };
}
