/** Hands one device event to the orchestration; a failure is counted and logged, never thrown at the broker. */
import type { DeviceRef } from '../orchestration/device-events';
import type { Logger } from '../runtime/log';
import type { GatewayMetrics } from './metrics';

export async function notifyOrchestration(
  deps: { metrics: GatewayMetrics; log: Logger },
  device: DeviceRef,
  what: string,
  op: () => Promise<void>,
): Promise<void> {
  try {
    await op();
  } catch (err) {
    deps.metrics.orchestrationErrors += 1;
    deps.log.error(`orchestration failed on ${what}`, { ...device, err });
  }
}
