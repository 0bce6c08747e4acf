/**
 * Publishes upgrade commands through the gateway as the privileged service
 * identity (one MQTT connection per worker). The gateway hands a command to
 * the device's live session even though EnOS SDKs never subscribe to it.
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { upgradeCommandTopic, type DeviceRef } from '../orchestration/device-events';
import type { FirmwareOffer } from '../domain/types';

export interface CommandPublisherOptions {
  url: string;
  username: string;
  password: string;
  /**
   * Turns a stored fileUrl into the one this command carries (a freshly signed
   * download URL for files we host). Applied here, as the command leaves, so a
   * re-delivered command has a fresh expiry and no signature is kept in history.
   */
  signFileUrl?: (fileUrl: string) => string;
}

export interface CommandPublisher {
  publishUpgrade(device: DeviceRef, commandId: string, firmware: FirmwareOffer): Promise<void>;
  close(): Promise<void>;
}

/** The EnOS command envelope (EnOS device protocol): string id, version "1.0", the five firmware fields. */
export function upgradeCommandPayload(commandId: string, firmware: FirmwareOffer): string {
  return JSON.stringify({
    id: commandId,
    version: '1.0',
    method: 'ota.device.upgrade',
    params: {
      version: firmware.version,
      signMethod: firmware.signMethod,
      sign: firmware.sign,
      fileUrl: firmware.fileUrl,
      fileSize: firmware.fileSize,
    },
  });
}

export function createCommandPublisher(opts: CommandPublisherOptions): CommandPublisher {
  let client: Promise<MqttClient> | undefined;
  const connect = () => {
    client ??= connectAsync(opts.url, {
      clientId: `ota-service-${process.pid}-${Math.random().toString(36).slice(2, 10)}`,
      username: opts.username,
      password: opts.password,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
    }).catch((err: unknown) => {
      client = undefined; // the next activity attempt reconnects
      throw err;
    });
    return client;
  };
  return {
    async publishUpgrade(device, commandId, firmware) {
      const mqtt = await connect();
      const fileUrl = opts.signFileUrl ? opts.signFileUrl(firmware.fileUrl) : firmware.fileUrl;
      const payload = upgradeCommandPayload(commandId, { ...firmware, fileUrl });
      await mqtt.publishAsync(upgradeCommandTopic(device), payload, { qos: 1 });
    },
    async close() {
      if (client) await (await client.catch(() => undefined))?.endAsync();
    },
  };
}
