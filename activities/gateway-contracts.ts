/**
 * The activities that carry an upgrade command to the device's session: one
 * that reads which gateway holds the session (any worker), and one that each
 * gateway runs on its own task queue to hand the command to that session.
 */
import type { DeviceRef, FirmwareOffer } from '../domain/types';

export interface UpgradeCommand extends DeviceRef {
  commandId: string;
  firmware: FirmwareOffer;
}

/** `not-connected`: this gateway holds no live session of the device (it moved, or left). */
export type CommandDelivery = 'delivered' | 'not-connected';

export interface RouteActivities {
  /** The gateway holding the device's session per the registry's presence; null when the device is offline. */
  locateDeviceSession(device: DeviceRef): Promise<{ gatewayId: string | null }>;
}

export interface GatewayActivities {
  deliverUpgradeCommand(command: UpgradeCommand): Promise<CommandDelivery>;
}
