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
      await mqtt.publishAsync(upgradeCommandTopic(device), upgradeCommandPayload(commandId, firmware), { qos: 1 });
    },
    async close() {
      if (client) await (await client.catch(() => undefined))?.endAsync();
    },
  };
}
