/**
 * How an upgrade command reaches the device's session: the worker reads which
 * gateway holds the session, then hands the command to that gateway's command
 * endpoint (gateway/command-endpoint.ts), which answers whether the session
 * took it. Both run as local activities, within the device workflow's task.
 */
import type { RecordUpdate } from '../domain/rollout';
import type { DeviceRef, FirmwareOffer } from '../domain/types';

export interface UpgradeCommand extends DeviceRef {
  commandId: string;
  firmware: FirmwareOffer;
}

/** `not-connected`: this gateway holds no live session of the device (it moved, or left). */
export type CommandDelivery = 'delivered' | 'not-connected';

/** What the gateway answers to a command handed to it. */
export interface CommandHandover {
  delivery: CommandDelivery;
  /**
   * The session that took it, named as its "connected" event names it (when it started, on
   * that gateway's clock): that event, arriving later, is no news of a reconnect.
   */
  sessionSince?: number;
}

/** The body of a POST to a gateway's command endpoint. */
export interface CommandRequest {
  command: UpgradeCommand;
  /**
   * The device workflow's run that sends it: the gateway signals the device's reports to
   * this run, which saves the server a lookup of the current run per signal.
   */
  runId?: string;
}

export interface RouteActivities {
  /** The gateway holding the device's session per the registry's presence; null when the device is offline. */
  locateDeviceSession(device: DeviceRef): Promise<{ gatewayId: string | null }>;
  /**
   * Hands the command to that gateway; fails when the gateway cannot be reached or is not
   * in the directory (it is gone: the caller asks presence again). `recordIfDelivered`: the
   * device workflow's record write that says so, written once the session took the command
   * (in the same local activity: each one costs the workflow an activation).
   */
  deliverUpgradeCommand(
    request: CommandRequest & { gatewayId: string; recordIfDelivered?: RecordUpdate },
  ): Promise<CommandHandover>;
}
