/**
 * Tells the gateway that a device left the registry, so it ends the device's
 * session at once rather than at its next periodic re-check. Best effort: the
 * deletion stands whatever the gateway answers, and the gateway re-reads the
 * registry itself before it acts.
 */
import type { DeviceRef } from '../orchestration/device-events';
import type { Logger } from '../runtime/log';

const TIMEOUT_MS = 2000;

export function gatewayNotice(gatewayUrl: string, log: Logger): (device: DeviceRef) => Promise<void> {
  return async (device) => {
    try {
      const res = await fetch(`${gatewayUrl}/registry-changed`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ productKey: device.productKey, deviceKey: device.deviceKey }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      if (!res.ok) log.warn('the gateway refused the notice of a removed device', { ...device, status: res.status });
    } catch (err) {
      log.warn('could not tell the gateway about a removed device; it re-checks on its own', { ...device, err });
    }
  };
}
