/**
 * A fleet of simulated devices in one process (1 to 10,000+): shared timers, a
 * limit on concurrent connects, records per device, a summary, and waitFor
 * helpers so tests and demos read as "connect, push, wait until all upgraded".
 */
import { DeviceRunner } from './behaviours';
import { Limiter, SharedClock } from './clock';
import { Conditions } from './conditions';
import { SimulatedDevice } from './device';
import type { Behaviour, DeviceRecord, DeviceSpec, FleetSummary } from './types';

export interface FleetOptions {
  /** The gateway's MQTT URL, e.g. mqtt://127.0.0.1:1883. */
  url: string;
  /** At most this many CONNECTs in flight (default 200). */
  maxConcurrentConnects?: number;
  /** Keepalive in seconds (default 60, like the SDKs). */
  keepaliveSec?: number;
  /** How long a synchronous request waits for its reply (default 30 s, like Python). */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Devices reconnect by themselves after a lost connection or refused login (see DeviceOptions). */
  autoReconnect?: { minDelayMs: number; maxDelayMs: number };
}

export class Fleet {
  private readonly runners = new Map<string, DeviceRunner>();
  private readonly clock = new SharedClock();
  private readonly limiter: Limiter;
  private readonly conditions = new Conditions();

  constructor(
    private readonly options: FleetOptions,
    specs: DeviceSpec[] = [],
  ) {
    this.limiter = new Limiter(options.maxConcurrentConnects ?? 200);
    specs.forEach((s) => this.add(s));
  }

  add(spec: DeviceSpec): SimulatedDevice {
    if (this.runners.has(spec.deviceKey)) throw new Error(`device ${spec.deviceKey} is already in the fleet`);
    const device = new SimulatedDevice(
      spec,
      {
        url: this.options.url,
        keepaliveSec: this.options.keepaliveSec ?? 60,
        requestTimeoutMs: this.options.requestTimeoutMs ?? 30_000,
        connectTimeoutMs: this.options.connectTimeoutMs ?? 30_000,
        autoReconnect: this.options.autoReconnect,
      },
      () => this.changed(),
    );
    this.runners.set(spec.deviceKey, new DeviceRunner(device, spec.behaviour ?? { kind: 'succeed' }, this.clock));
    return device;
  }

  /**
   * Connects every device (offline ones after their period, in the background)
   * and has each inform its version. Resolves when the immediately-connecting
   * devices are done connecting: the number of accepted logins.
   */
  async connect(): Promise<number> {
    const slot = <T>(task: () => Promise<T>) => this.limiter.run(task);
    const now: Promise<boolean>[] = [];
    for (const runner of this.runners.values()) {
      const started = runner.start(slot);
      if (runner.device.spec.behaviour?.kind !== 'offline') now.push(started);
    }
    return (await Promise.all(now)).filter(Boolean).length;
  }

  device(deviceKey: string): SimulatedDevice {
    const runner = this.runners.get(deviceKey);
    if (!runner) throw new Error(`no device ${deviceKey} in the fleet`);
    return runner.device;
  }

  get records(): DeviceRecord[] {
    return [...this.runners.values()].map((r) => r.device.record);
  }

  /** Resolves when `predicate` holds for the fleet's records; rejects with the summary after timeoutMs. */
  waitFor(predicate: (records: DeviceRecord[]) => boolean, timeoutMs: number): Promise<void> {
    return this.conditions.until(
      () => predicate(this.records),
      timeoutMs,
      () => `fleet condition not met in ${timeoutMs} ms: ${JSON.stringify(this.summary())}`,
    );
  }

  /** Resolves when every device (or the given ones) satisfies `predicate`. */
  waitForEach(predicate: (record: DeviceRecord) => boolean, timeoutMs: number, deviceKeys?: string[]): Promise<void> {
    const keys = deviceKeys ? new Set(deviceKeys) : undefined;
    return this.waitFor((rs) => rs.filter((r) => !keys || keys.has(r.deviceKey)).every(predicate), timeoutMs);
  }

  summary(): FleetSummary {
    const s: FleetSummary = {
      devices: 0,
      online: 0,
      versions: {},
      outcomes: {},
      commandsReceived: 0,
      progressSent: 0,
      informsSent: 0,
      repliesReceived: 0,
      requestTimeouts: 0,
      refusedLogins: 0,
    };
    for (const r of this.records) {
      s.devices += 1;
      if (r.online) s.online += 1;
      s.versions[r.version] = (s.versions[r.version] ?? 0) + 1;
      s.outcomes[r.outcome] = (s.outcomes[r.outcome] ?? 0) + 1;
      s.commandsReceived += r.commands.length;
      s.progressSent += r.progress.length;
      s.informsSent += r.informs.length;
      s.repliesReceived += r.replies.length;
      s.requestTimeouts += r.timeouts;
      s.refusedLogins += r.connections.filter((c) => c.event === 'refused').length;
    }
    return s;
  }

  /** Disconnects everyone cleanly and stops pending behaviours. */
  async close(): Promise<void> {
    for (const r of this.runners.values()) r.stop();
    this.clock.wakeAll();
    await Promise.all([...this.runners.values()].map((r) => r.device.disconnect().catch(() => undefined)));
  }

  private changed(): void {
    this.conditions.changed();
  }
}

/** Specs for `count` devices named `${prefix}${i}` with one behaviour (mix with array concat). */
export function fleetSpecs(opts: {
  productKey: string;
  count: number;
  prefix?: string;
  version: string;
  behaviour?: Behaviour;
  secret?: (deviceKey: string) => string;
  start?: number;
}): DeviceSpec[] {
  const prefix = opts.prefix ?? 'sim-';
  return Array.from({ length: opts.count }, (_, i) => {
    const deviceKey = `${prefix}${(opts.start ?? 0) + i}`;
    return {
      productKey: opts.productKey,
      deviceKey,
      deviceSecret: opts.secret ? opts.secret(deviceKey) : `secret-${deviceKey}`,
      version: opts.version,
      behaviour: opts.behaviour,
    };
  });
}
