/** The benchmark's baseline: one trivial workflow per device calling one no-op activity. */
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(deviceKey: string): Promise<string> }>({ startToCloseTimeout: '30 seconds' });

export async function baselineDeviceWorkflow(deviceKey: string): Promise<string> {
  return noop(deviceKey);
}
