/**
 * One simulated device speaking the EnOS protocol exactly as the SDKs do:
 * signed CONNECT with a timestamp fixed once (reused on reconnect), clean
 * session, keepalive 60 s, no SUBSCRIBE to command topics, SUBSCRIBE to
 * `_reply` before each synchronous request, ids as decimal strings from a
 * per-connection counter, envelope version "1.1".
 */
import { connect, type MqttClient } from 'mqtt';
import { deviceCredentials } from '../gateway/auth';
import type { DeviceRecord, DeviceSpec, ReceivedReply } from './types';

export interface DeviceOptions {
  url: string;
  keepaliveSec: number;
  /** How long a synchronous request waits for its reply (Python SDK: 30 s, Java: 60 s). */
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  /**
   * Reconnect by itself after losing the connection or a refused login, as the
   * SDKs do (Python: paho, 1 s doubling to 60 s; Java 2.x: 8 s doubling to 128 s).
   * Like the Java OTA sample, a reconnect does not inform the version again, and
   * an upgrade under way carries on: its reports wait for the connection.
   */
  autoReconnect?: { minDelayMs: number; maxDelayMs: number };
}

interface Pending {
  resolve(reply: ReceivedReply | undefined): void;
  timer: NodeJS.Timeout;
}

export class SimulatedDevice {
  readonly record: DeviceRecord;
  /** Fixed once, like every SDK profile; a freshness check on the server would break reconnects. */
  private readonly timestamp = String(Date.now());
  private client: MqttClient | undefined;
  private nextId = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly subscribed = new Set<string>();
  /** True from connect() until disconnect() or drop(): the device wants to be online. */
  private wanted = false;
  private reconnectFailures = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private onlineWaiters: ((online: boolean) => void)[] = [];
  /** Called on every command the device receives (behaviours hook in here). */
  onCommand: (command: { id: string; params: Record<string, unknown> }) => void = () => undefined;

  constructor(
    readonly spec: DeviceSpec,
    private readonly options: DeviceOptions,
    private readonly changed: () => void,
  ) {
    this.record = {
      productKey: spec.productKey,
      deviceKey: spec.deviceKey,
      version: spec.version,
      online: false,
      outcome: 'none',
      commands: [],
      replies: [],
      progress: [],
      informs: [],
      connections: [],
      timeouts: 0,
      downloads: [],
    };
  }

  /** Records how the current upgrade ended, and wakes fleet waiters. */
  setOutcome(outcome: DeviceRecord['outcome']): void {
    this.record.outcome = outcome;
    this.changed();
  }

  get prefix(): string {
    return `/sys/${this.spec.productKey}/${this.spec.deviceKey}/`;
  }

  /** True when the device reconnects by itself, so an upgrade survives a lost connection. */
  get reconnects(): boolean {
    return this.options.autoReconnect !== undefined;
  }

  /** Resolves true once online, or false when the device stops wanting to be (disconnect, drop, close). */
  whenOnline(): Promise<boolean> {
    if (this.record.online) return Promise.resolve(true);
    if (!this.wanted) return Promise.resolve(false);
    return new Promise((resolve) => this.onlineWaiters.push(resolve));
  }

  /**
   * Loses the connection without a DISCONNECT but keeps wanting to be online:
   * a network blip, after which an auto-reconnecting device comes back by itself.
   */
  loseConnection(): void {
    this.client?.stream.destroy();
  }

  /** Connects; true when the CONNACK accepted the login. */
  connect(): Promise<boolean> {
    this.wanted = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const creds = deviceCredentials({ ...this.spec, timestamp: this.timestamp, upperCase: this.spec.upperCaseSign });
    this.nextId = 0;
    this.subscribed.clear();
    const client = connect(this.options.url, {
      ...creds,
      protocolVersion: 4,
      clean: true,
      keepalive: this.options.keepaliveSec,
      reconnectPeriod: 0,
      connectTimeout: this.options.connectTimeoutMs,
    });
    this.client = client;
    client.on('message', (topic, payload) => this.arrived(topic, payload));
    return new Promise((resolve) => {
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        resolve(ok);
      };
      client.once('connect', () => {
        this.record.online = true;
        this.reconnectFailures = 0;
        this.log('connected');
        this.wakeOnlineWaiters(true);
        settle(true);
      });
      client.on('error', (err) => {
        const refused = 'code' in err && typeof err.code === 'number';
        this.log(refused ? 'refused' : 'error', err.message);
        if (refused) client.end(true);
        settle(false);
      });
      client.on('close', () => {
        if (this.client === client && this.record.online) {
          this.record.online = false;
          this.log('closed');
        }
        this.failPending();
        settle(false);
        if (this.client === client) this.scheduleReconnect();
      });
    });
  }

  private scheduleReconnect(): void {
    const auto = this.options.autoReconnect;
    if (!auto || !this.wanted || this.reconnectTimer) return;
    const delay = Math.min(auto.maxDelayMs, auto.minDelayMs * 2 ** this.reconnectFailures);
    this.reconnectFailures += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.wanted) void this.connect();
    }, delay);
  }

  private stopWanting(): void {
    this.wanted = false;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.wakeOnlineWaiters(false);
  }

  private wakeOnlineWaiters(online: boolean): void {
    const waiters = this.onlineWaiters;
    this.onlineWaiters = [];
    waiters.forEach((w) => w(online));
  }

  /** A clean MQTT DISCONNECT. */
  async disconnect(): Promise<void> {
    this.stopWanting();
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    this.record.online = false;
    this.failPending();
    await client.endAsync();
    this.log('closed', 'disconnect');
  }

  /** Loses the connection without a DISCONNECT, as a device losing power or network would. */
  drop(): void {
    this.stopWanting();
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    this.record.online = false;
    this.log('dropped');
    this.failPending();
    client.stream.destroy();
    client.end(true);
  }

  inform(version: string): Promise<ReceivedReply | undefined> {
    this.record.informs.push(version);
    return this.request('ota/device/inform', 'ota.device.inform', { version });
  }

  progress(step: number, desc = ''): Promise<ReceivedReply | undefined> {
    this.record.progress.push({ step, desc, at: Date.now() });
    // Both SDK builders send step and desc as strings.
    return this.request('ota/device/progress', 'ota.device.progress', { step: String(step), desc });
  }

  getversion(): Promise<ReceivedReply | undefined> {
    return this.request('ota/device/getversion', 'ota.device.getversion', {});
  }

  /**
   * Synchronous publish: subscribe to `_reply`, publish QoS 1, wait for the reply with the same id.
   * An auto-reconnecting device sends a report that got no reply again once it is
   * back online, as a device application that wants its report acknowledged does.
   */
  async request(suffix: string, method: string, params: object): Promise<ReceivedReply | undefined> {
    if (!this.reconnects) return this.requestOnce(suffix, method, params);
    while (await this.whenOnline()) {
      const reply = await this.requestOnce(suffix, method, params);
      if (reply) return reply;
      // A connection that is going away fails at once: do not spin on it until its close arrives.
      await new Promise((r) => setTimeout(r, 250));
    }
    return undefined;
  }

  private async requestOnce(suffix: string, method: string, params: object): Promise<ReceivedReply | undefined> {
    const client = this.client;
    if (!client || !this.record.online) return undefined;
    const topic = this.prefix + suffix;
    const reply = `${topic}_reply`;
    if (!this.subscribed.has(reply)) {
      try {
        await client.subscribeAsync(reply, { qos: 1 });
      } catch {
        // The connection went away (or the gateway refused): the SDK's request would fail the same way.
        return undefined;
      }
      this.subscribed.add(reply);
    }
    this.nextId += 1;
    const id = String(this.nextId);
    const answer = new Promise<ReceivedReply | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(`${reply}_${id}`);
        this.record.timeouts += 1;
        resolve(undefined);
      }, this.options.requestTimeoutMs);
      this.pending.set(`${reply}_${id}`, { resolve, timer });
    });
    // A failed publish shows up as the reply timing out, as it would for an SDK.
    client.publish(topic, JSON.stringify({ id, version: '1.1', method, params }), { qos: 1 }, () => undefined);
    return answer;
  }

  private arrived(topic: string, payload: Buffer): void {
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(payload.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return;
      body = parsed as Record<string, unknown>;
    } catch {
      return;
    }
    const id = typeof body.id === 'string' ? body.id : String(body.id);
    if (topic.endsWith('_reply')) {
      const reply: ReceivedReply = { topic, id, code: Number(body.code), data: body.data, at: Date.now() };
      this.record.replies.push(reply);
      const waiter = this.pending.get(`${topic}_${id}`);
      if (waiter) {
        clearTimeout(waiter.timer);
        this.pending.delete(`${topic}_${id}`);
        waiter.resolve(reply);
      }
      this.changed();
      return;
    }
    // The SDKs match arrived commands by regex on the topic, not by subscription.
    if (/^\/sys\/.*\/.*\/ota\/device\/upgrade$/.test(topic)) {
      const params = (typeof body.params === 'object' && body.params !== null ? body.params : {}) as Record<
        string,
        unknown
      >;
      this.record.commands.push({ id, version: String(params.version), at: Date.now(), raw: body });
      this.changed();
      this.onCommand({ id, params });
    }
  }

  private failPending(): void {
    for (const [key, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.resolve(undefined);
      this.pending.delete(key);
    }
  }

  private log(event: DeviceRecord['connections'][number]['event'], detail?: string): void {
    this.record.connections.push({ event, at: Date.now(), detail });
    this.changed();
  }
}
