/**
 * Upgrade commands into the device sessions this gateway holds: from the
 * service MQTT identity (a publish on the command topic) and from the
 * worker at this gateway's command endpoint (gateway/command-endpoint.ts),
 * which answers so the device workflow knows whether the command reached a session.
 */
import { upgradeCommandPayload } from './command-payload';
import type { CommandHandover, UpgradeCommand } from '../activities/gateway-contracts';
import { upgradeCommandTopic, type DeviceRef } from '../orchestration/device-events';
import type { Logger } from '../runtime/log';
import type { Delivery } from './delivery';
import type { GatewayMetrics } from './metrics';
import type { Revocation } from './revocation';
import type { DeviceIdentity, Sessions } from './sessions';

export interface CommandsDeps {
  sessions: Sessions;
  delivery: Delivery;
  revocation: Revocation;
  metrics: GatewayMetrics;
  log: Logger;
  /** Signs a firmware file URL of ours as the command leaves (fresh expiry per delivery). */
  signFileUrl?: (fileUrl: string) => string;
}

export class Commands {
  constructor(private readonly deps: CommandsDeps) {}

  /** A command from the orchestration, for a device that presence says is connected here. */
  async deliverUpgrade(command: UpgradeCommand): Promise<CommandHandover> {
    const { commandId, firmware } = command;
    const device = { productKey: command.productKey, deviceKey: command.deviceKey };
    const fileUrl = this.deps.signFileUrl ? this.deps.signFileUrl(firmware.fileUrl) : firmware.fileUrl;
    const payload = Buffer.from(upgradeCommandPayload(commandId, { ...firmware, fileUrl }));
    const session = await this.sendTo(device, upgradeCommandTopic(device), payload);
    return session ? { delivery: 'delivered', sessionSince: session.since } : { delivery: 'not-connected' };
  }

  /** Whether the device's live session took the command. */
  async send(device: DeviceRef, topic: string, payload: Buffer): Promise<boolean> {
    return (await this.sendTo(device, topic, payload)) !== undefined;
  }

  /** The device's live session that took the command, if one did. */
  private async sendTo(device: DeviceRef, topic: string, payload: Buffer): Promise<DeviceIdentity | undefined> {
    const { sessions, metrics, log } = this.deps;
    // Read the registry first: a device deleted a moment ago (its notice still on the way) gets no command.
    const registered = sessions.live(device) && (await this.deps.revocation.stillRegistered(device));
    const target = registered ? sessions.live(device) : undefined;
    const session = target && sessions.identify(target);
    if (!target || session?.kind !== 'device') {
      metrics.commands.undelivered += 1;
      log.warn('command not delivered: device not connected', { ...device, topic });
      return undefined;
    }
    const sent = await this.deps.delivery.send(target, topic, payload, 1);
    if (sent) {
      metrics.commands.delivered += 1;
      log.debug('command delivered', { ...device, topic });
    } else {
      metrics.commands.undelivered += 1;
      log.warn('command not delivered: session closed during delivery', { ...device });
    }
    return sent ? session : undefined;
  }
}
