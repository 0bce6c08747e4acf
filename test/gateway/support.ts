/**
 * A real gateway in this test process, on ephemeral ports, over a private
 * database, with a recording orchestration; plus builders for registered
 * devices and raw MQTT device connections (the `mqtt` package, as a device).
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Db } from 'mongodb';
import type { MqttLimits, MqttTlsConfig } from '../../config/config';
import type { DevicePresenceStore } from '../../db/device-presence';
import { newDeviceDoc, type DeviceDoc } from '../../db/devices';
import { deviceCredentials } from '../../gateway/auth';
import { startGateway, type Gateway } from '../../gateway/gateway';
import { silentLogger } from '../../runtime/log';
import { RecordingDeviceEvents, type RecordingOptions } from '../fixtures/recording-device-events';
import { testDb } from '../helpers/stack';

export const SERVICE = { username: 'ota-service-test', password: 'service-password-test' };

export interface TestGateway {
  gateway: Gateway;
  db: Db;
  events: RecordingDeviceEvents;
  url: string;
  close(): Promise<void>;
}

export async function startTestGateway(
  name: string,
  opts: {
    events?: RecordingOptions;
    getversionTimeoutMs?: number;
    limits?: Partial<MqttLimits>;
    tls?: MqttTlsConfig;
    /** Wraps the registry adapter (e.g. to count lookups). */
    presenceStore?: (db: Db) => DevicePresenceStore;
  } = {},
): Promise<TestGateway> {
  const mongo = await testDb(name);
  const events = new RecordingDeviceEvents(opts.events);
  const gateway = await startGateway({
    config: {
      mqttPort: 0,
      mqttHost: '127.0.0.1',
      gatewayHttpPort: 0,
      serviceMqttUsername: SERVICE.username,
      serviceMqttPassword: SERVICE.password,
      mqttLimits: opts.limits,
      mqttTls: opts.tls,
    },
    log: process.env.OTA_TEST_LOGS
      ? (await import('../../runtime/log')).createLogger('gateway', 'debug')
      : silentLogger,
    db: mongo.db,
    events,
    getversionTimeoutMs: opts.getversionTimeoutMs,
    presenceStore: opts.presenceStore?.(mongo.db),
  });
  return {
    gateway,
    db: mongo.db,
    events,
    url: `mqtt://127.0.0.1:${gateway.mqttPort}`,
    async close() {
      await gateway.close();
      await mongo.close();
    },
  };
}

export interface TestDevice {
  productKey: string;
  deviceKey: string;
  deviceSecret: string;
}

/** Inserts devices in the registry's document shape, built by the registry's own constructor. */
export async function registerDevices(db: Db, devices: TestDevice[], firmwareVersion?: string): Promise<void> {
  const now = new Date();
  await db
    .collection<DeviceDoc>('devices')
    .insertMany(devices.map((d) => newDeviceDoc({ ...d, ...(firmwareVersion ? { firmwareVersion } : {}) }, now)));
}

export function registryDoc(db: Db, d: { productKey: string; deviceKey: string }) {
  return db
    .collection('devices')
    .findOne({ productKey: d.productKey, deviceKey: d.deviceKey }, { projection: { _id: 0 } });
}

/** Connects with raw options; resolves with the client on CONNACK 0, rejects with the CONNACK error. */
export function connectRaw(url: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = connect(url, {
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    client.on('error', () => undefined); // later errors are asserted through behaviour, not thrown
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

export function connectDevice(
  url: string,
  device: TestDevice,
  opts: { signMethod?: string; upperCase?: boolean; timestamp?: string; signClientId?: string } & IClientOptions = {},
): Promise<MqttClient> {
  const { signMethod, upperCase, timestamp, signClientId, ...mqttOptions } = opts;
  const creds = deviceCredentials({
    ...device,
    timestamp: timestamp ?? '1716900000000',
    signMethod,
    upperCase,
    signClientId,
  });
  return connectRaw(url, { ...creds, ...mqttOptions });
}

export function connectService(url: string, password = SERVICE.password): Promise<MqttClient> {
  return connectRaw(url, {
    clientId: `svc-${Math.random().toString(36).slice(2)}`,
    username: SERVICE.username,
    password,
  });
}

/** Collects every message a client receives. */
export function inbox(client: MqttClient): { topic: string; body: unknown; raw: Buffer; qos: number }[] {
  const messages: { topic: string; body: unknown; raw: Buffer; qos: number }[] = [];
  client.on('message', (topic, raw, packet) => {
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      body = undefined;
    }
    messages.push({ topic, body, raw, qos: packet.qos });
  });
  return messages;
}

export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let probes = 0;
/**
 * A request on the device's own connection that the gateway answers with an error (an unknown
 * method: no event, no record changed). MQTT keeps order per connection, so once its reply is
 * in, the gateway has handled every message the device sent before it. Resolves with its id.
 */
export async function roundTrip(
  client: MqttClient,
  device: TestDevice,
  box: { topic: string; body: unknown }[],
): Promise<string> {
  probes += 1;
  const id = `probe-${probes}`;
  await client.publishAsync(
    `/sys/${device.productKey}/${device.deviceKey}/ota/device/inform`,
    JSON.stringify({ id, method: 'probe.round.trip', params: {} }),
    { qos: 1 },
  );
  await until(() => box.some((m) => (m.body as { id?: unknown } | undefined)?.id === id), 5000, `the reply to ${id}`);
  return id;
}

let seq = 0;
export function newDevice(productKey = 'pk1'): TestDevice {
  seq += 1;
  return {
    productKey,
    deviceKey: `dev${seq}-${process.pid}`,
    deviceSecret: `secret-${seq}-${Math.random().toString(36).slice(2)}`,
  };
}

/** SUBACK return codes per filter (mqtt v5 rejects on 0x80, but the packet still says which were refused). */
export async function subscribeCodes(client: MqttClient, topics: string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(topics, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    const packet = (err as { packet?: { granted?: (number | { qos: number })[] } }).packet;
    if (!packet?.granted) throw err;
    return packet.granted.map((g) => (typeof g === 'number' ? g : g.qos));
  }
}
