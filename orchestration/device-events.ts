/**
 * What the gateway tells the orchestration about devices, and what it asks.
 * The gateway depends only on this interface; orchestration/temporal-device-events.ts
 * implements it with Temporal signals and updates. Every method must be safe
 * to call for a device with no upgrade in progress (it then does nothing, or
 * answers "no offer"), and must not throw for that case.
 */
import type { DeviceRef, FirmwareOffer } from '../domain/types';

export type { DeviceRef };

export interface DeviceEvents {
  /**
   * The device logged in (MQTT CONNECT accepted). `sessionSince` names the session: when it
   * started, on the gateway's clock (the same value a command delivered to it answers with).
   */
  connected(device: DeviceRef, sessionSince?: number): Promise<void>;
  /** The device's session ended: clean disconnect, socket error or keepalive timeout. */
  disconnected(device: DeviceRef, reason: string): Promise<void>;
  /**
   * The device reported its firmware version. The gateway's registry write may
   * still be in flight: use `version`, not the registry's copy.
   */
  versionReported(device: DeviceRef, version: string): Promise<void>;
  /** An `ota/device/progress` report: step "0".."100", or a negative failure code. */
  progressReported(device: DeviceRef, step: number, desc: string): Promise<void>;
  /** An optional `ota/device/upgrade_reply` to a command the service pushed. */
  upgradeReplied(device: DeviceRef, commandId: string, code: number, message: string): Promise<void>;
  /** `getversion` or legacy `request`: the firmware offered to this device now (empty: none). */
  firmwareRequested(device: DeviceRef): Promise<FirmwareOffer[]>;
  /**
   * The device's session took an upgrade command to `targetVersion` from this run of its
   * workflow: a hint for where its next events go, and for which of them are news to it. The run
   * may have ended by then; the events then go to whatever run is current.
   */
  commandDelivered?(device: DeviceRef, runId: string, targetVersion: string): void;
}

/** Told by the API when devices are registered, so running increment tasks rescan. */
export interface RegistryEvents {
  devicesRegistered(productKey: string): Promise<void>;
}

/** The MQTT topic of the upgrade command (cloud → device) in the EnOS device protocol. */
export function upgradeCommandTopic(device: DeviceRef): string {
  return `/sys/${device.productKey}/${device.deviceKey}/ota/device/upgrade`;
}
