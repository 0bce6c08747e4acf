/**
 * Our MQTT fuzzer: hostile and malformed packets, written with mqtt-packet
 * (the broker's own codec) and then bent, from many connections at once, each
 * from its own loopback source address. Seeded, so a failing run can be
 * replayed with the same OTA_FUZZ_SEED. What it sends, by scenario:
 * - garbage: random bytes, reserved packet types, remaining lengths of five bytes;
 * - truncated: a valid packet cut anywhere;
 * - oversize: a header announcing up to 256 MB, then a stream of bytes;
 * - login storm: CONNECTs with made-up devices, wrong signatures, bad UTF-8,
 *   odd protocol versions, securemodes, compressions, wills and clean=false;
 * - session: logged in as one of its own devices, publishes to random topics,
 *   wildcards, other devices' topics, command and reply topics, with QoS 0-2,
 *   retain, junk payloads and bad UTF-8; subscribes to wildcards and other
 *   devices; PUBREL/PUBREC for nothing, a second CONNECT, and a QoS 2 flood.
 */
import * as net from 'node:net';
import { generate, parser, type IConnectPacket, type Packet } from 'mqtt-packet';
import { deviceCredentials } from '../../gateway/auth';
import type { DeviceRef } from '../../orchestration/device-events';

export interface FuzzDevice extends DeviceRef {
  deviceSecret: string;
}

export interface FuzzOptions {
  port: number;
  /** Stop once this many packets were written. */
  packets: number;
  /** Connections at once. */
  concurrency: number;
  seed: number;
  /** Registered devices the fuzzer may log in as (their presence and version are its to change). */
  own: FuzzDevice[];
  /** Devices it has no right to: their topics are targets. */
  foreign: DeviceRef[];
}

export interface FuzzStats {
  packets: number;
  connections: number;
  /** Connections the gateway closed before the fuzzer did. */
  closedByGateway: number;
  connacks: Record<string, number>;
  scenarios: Record<string, number>;
}

/** mulberry32: small, fast, and the same sequence for the same seed. */
export class Rng {
  constructor(private state: number) {}
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i += 1) b[i] = this.int(256);
    return b;
  }
  text(max: number): string {
    const alphabet = 'abcXYZ019/+#&|$=,{}. _-\u00e9\u4e2d\u0000\ud83d\ude00';
    let s = '';
    const n = this.int(max + 1);
    for (let i = 0; i < n; i += 1) s += alphabet[this.int(alphabet.length)];
    return s;
  }
}

/** Byte sequences that are not UTF-8: a lone continuation, an overlong form, a surrogate, 0xFF. */
const BAD_UTF8 = [Buffer.from([0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xff])];
const MARK = '\u0001BADUTF8\u0001';

/** Replaces the marker inside an encoded packet with invalid UTF-8 of the same length. */
function withBadUtf8(packet: Buffer, rng: Rng): Buffer {
  const at = packet.indexOf(Buffer.from(MARK));
  if (at < 0) return packet;
  const filler = Buffer.alloc(MARK.length);
  for (let i = 0; i < filler.length;) {
    const bad = rng.pick(BAD_UTF8);
    bad.copy(filler, i, 0, Math.min(bad.length, filler.length - i));
    i += bad.length;
  }
  filler.copy(packet, at);
  return packet;
}

function encode(packet: Packet): Buffer | undefined {
  try {
    return generate(packet);
  } catch {
    // mqtt-packet refuses some of what we ask for (e.g. a topic over 65535 bytes): skip those.
    return undefined;
  }
}

function announce(firstByte: number, length: number): Buffer {
  const bytes = [firstByte];
  let n = length;
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 0x80;
    bytes.push(digit);
  } while (n > 0);
  return Buffer.from(bytes);
}

const OTA_SUFFIXES = [
  'ota/device/inform',
  'ota/device/progress',
  'ota/device/getversion',
  'ota/device/request',
  'ota/device/upgrade_reply',
  'ota/device/upgrade',
  'ota/device/inform_reply',
  'thing/event/property/post',
];

class Generator {
  constructor(
    private readonly rng: Rng,
    private readonly opts: FuzzOptions,
  ) {}

  private device(): DeviceRef {
    const { rng, opts } = this;
    return rng.chance(0.5) ? rng.pick(opts.foreign) : rng.pick(opts.own);
  }

  topic(self: DeviceRef): string {
    const { rng } = this;
    switch (rng.int(9)) {
      case 0:
        return `/sys/${self.productKey}/${self.deviceKey}/${rng.pick(OTA_SUFFIXES)}`;
      case 1:
      case 2: {
        const other = rng.pick(this.opts.foreign);
        return `/sys/${other.productKey}/${other.deviceKey}/${rng.pick(OTA_SUFFIXES)}`;
      }
      case 3:
        return rng.pick(['#', '+', '/sys/+/+/ota/device/upgrade', '/sys/#', 'a/#/b', '$SYS/#', '']);
      case 4:
        return `/ext/session/${self.productKey}/${self.deviceKey}/thing/activate/info${rng.chance(0.5) ? '_reply' : ''}`;
      case 5:
        return 'x'.repeat(1 + rng.int(rng.chance(0.1) ? 70_000 : 300));
      case 6:
        return MARK + rng.text(20);
      default:
        return rng.text(64);
    }
  }

  payload(): Buffer | string {
    const { rng } = this;
    switch (rng.int(8)) {
      case 0:
        return JSON.stringify({
          id: String(rng.int(1e6)),
          method: 'ota.device.inform',
          params: { version: rng.text(10) },
        });
      case 1:
        return JSON.stringify({
          id: rng.text(100),
          method: rng.text(30),
          params: { step: rng.text(5), desc: rng.text(40) },
        });
      case 2:
        return '['.repeat(1 + rng.int(50_000));
      case 3:
        return rng.bytes(rng.int(2000));
      case 4:
        return Buffer.concat([Buffer.from('{"id":"1","x":"'), rng.pick(BAD_UTF8), Buffer.from('"}')]);
      case 5:
        return Buffer.from([0x1f, 0x8b, 0x08, 0x00, ...rng.bytes(rng.int(100))]);
      case 6:
        return rng.chance(0.05) ? Buffer.alloc(512 * 1024 + rng.int(8192), 0x20) : '';
      default:
        return JSON.stringify({ id: '1', code: rng.int(2000), message: rng.text(20), data: { fileUrl: rng.text(30) } });
    }
  }

  connect(): { packet: Buffer; kind: string } {
    const { rng } = this;
    const target = this.device();
    const kind = rng.pick(['unknown', 'wrong-sign', 'garbled', 'bad-utf8', 'odd'] as const);
    const creds = deviceCredentials({ ...target, deviceSecret: rng.text(16), timestamp: String(rng.int(1e13)) });
    const packet: IConnectPacket = {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: !rng.chance(0.2),
      keepalive: rng.int(1000),
      clientId: creds.clientId,
      username: creds.username,
      password: Buffer.from(creds.password),
    };
    if (kind === 'unknown') packet.username = `${rng.text(12) || 'x'}&${target.productKey}`;
    if (kind === 'garbled') {
      packet.clientId = rng.pick([
        rng.text(40),
        `${rng.text(8)}|securemode=${rng.pick(['3', '4', '9', ''])},compress=${rng.text(4)}|`,
        '',
      ]);
      packet.username = rng.pick([rng.text(30), '', '&', 'a&b&c']);
    }
    if (kind === 'bad-utf8') packet.clientId = `${MARK}|securemode=2,timestamp=1|`;
    if (kind === 'odd') {
      packet.protocolVersion = rng.pick([3, 4, 5]);
      if (packet.protocolVersion === 3) packet.protocolId = 'MQIsdp';
      if (rng.chance(0.5)) {
        const other = rng.pick(this.opts.foreign);
        packet.will = {
          topic: `/sys/${other.productKey}/${other.deviceKey}/ota/device/upgrade`,
          payload: Buffer.from(JSON.stringify({ id: '1', params: { fileUrl: 'http://evil' } })),
          qos: rng.pick([0, 1, 2] as const),
          retain: rng.chance(0.5),
        };
      }
    }
    const encoded = encode(packet) ?? Buffer.from([0x10, 0x00]);
    return { packet: withBadUtf8(encoded, rng), kind: `login-${kind}` };
  }

  /** One packet of a logged-in session (or something that merely looks like one). */
  sessionPacket(self: DeviceRef, messageId: number): Buffer | undefined {
    const { rng } = this;
    const r = rng.int(20);
    if (r < 9) {
      const qos = rng.pick([0, 1, 1, 2] as const);
      const topic = this.topic(self);
      const packet = encode({
        cmd: 'publish',
        topic,
        payload: this.payload(),
        qos,
        retain: rng.chance(0.1),
        dup: false,
        messageId,
      });
      return packet && withBadUtf8(packet, rng);
    }
    if (r < 12) {
      const topic = this.topic(self);
      const packet = encode({
        cmd: 'subscribe',
        messageId,
        subscriptions: [{ topic: topic || '#', qos: rng.pick([0, 1, 2] as const) }],
      });
      return packet && withBadUtf8(packet, rng);
    }
    if (r === 12) return encode({ cmd: 'unsubscribe', messageId, unsubscriptions: [this.topic(self) || '#'] });
    if (r === 13)
      return encode({ cmd: rng.pick(['pubrel', 'pubrec', 'pubcomp', 'puback'] as const), messageId: rng.int(65536) });
    if (r === 14) return encode({ cmd: 'pingreq' });
    if (r === 15) return this.connect().packet;
    if (r === 16)
      return Buffer.concat([
        Buffer.from([rng.pick([0x00, 0xf0, 0x20, 0x90, 0x62])]),
        announce(0, rng.int(64)).subarray(1),
        rng.bytes(rng.int(64)),
      ]);
    if (r === 17) return this.truncated(self);
    if (r === 18) return announce(0x30, 1_000_000 + rng.int(255_000_000));
    return encode({ cmd: 'disconnect' });
  }

  truncated(self: DeviceRef): Buffer {
    const full =
      encode({
        cmd: 'publish',
        topic: this.topic(self) || 'a',
        payload: this.payload(),
        qos: 1,
        messageId: 7,
        retain: false,
        dup: false,
      }) ?? Buffer.from([0x30, 0x05, 0x00]);
    return full.subarray(0, 1 + this.rng.int(Math.max(1, full.length - 1)));
  }

  garbage(): Buffer {
    const { rng } = this;
    if (rng.chance(0.3)) return Buffer.from([rng.int(256), 0xff, 0xff, 0xff, 0xff, 0x7f]);
    return rng.bytes(1 + rng.int(2000));
  }
}

interface Conn {
  socket: net.Socket;
  packets: Packet[];
  closed: boolean;
}

function open(port: number, localAddress: string): Promise<Conn | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const conn: Conn = { socket, packets: [], closed: false };
    const p = parser({ protocolVersion: 4 });
    p.on('packet', (packet: Packet) => conn.packets.push(packet));
    p.on('error', () => undefined);
    socket.on('data', (chunk) => p.parse(chunk));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      conn.closed = true;
      resolve(undefined);
    });
    socket.once('connect', () => resolve(conn));
  });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await pause(5);
  }
  return true;
}

/** Runs until `packets` were written and `mayStop` agrees; resolves with what happened. */
export async function runFuzzer(opts: FuzzOptions, mayStop: () => boolean = () => true): Promise<FuzzStats> {
  const stats: FuzzStats = { packets: 0, connections: 0, closedByGateway: 0, connacks: {}, scenarios: {} };
  const done = () => stats.packets >= opts.packets && mayStop();

  const write = (conn: Conn, bytes: Buffer | undefined): boolean => {
    if (!bytes || conn.closed) return false;
    conn.socket.write(bytes);
    stats.packets += 1;
    return true;
  };

  const worker = async (index: number): Promise<void> => {
    const rng = new Rng(opts.seed * 1000 + index);
    const gen = new Generator(rng, opts);
    while (!done()) {
      // Each connection from another loopback address, as a botnet would come.
      const address = `127.${1 + rng.int(200)}.${rng.int(256)}.${1 + rng.int(254)}`;
      const conn = await open(opts.port, address);
      stats.connections += 1;
      if (!conn) continue;
      const scenario = rng.pick([
        'garbage',
        'truncated',
        'oversize',
        'login',
        'login',
        'session',
        'session',
        'session',
        'qos2-flood',
      ] as const);
      stats.scenarios[scenario] = (stats.scenarios[scenario] ?? 0) + 1;
      const own = rng.pick(opts.own);
      if (scenario === 'garbage') {
        for (let i = 0; i < 1 + rng.int(5); i += 1) write(conn, gen.garbage());
      } else if (scenario === 'truncated') {
        write(conn, gen.truncated(own));
      } else if (scenario === 'oversize') {
        write(conn, announce(rng.pick([0x10, 0x30, 0x82]), 1_000_000 + rng.int(255_000_000)));
        for (let i = 0; i < 4 && !conn.closed; i += 1) conn.socket.write(rng.bytes(64 * 1024));
      } else if (scenario === 'login') {
        const { packet, kind } = gen.connect();
        stats.scenarios[kind] = (stats.scenarios[kind] ?? 0) + 1;
        write(conn, packet);
        await waitFor(() => conn.closed || conn.packets.length > 0, 1000);
      } else {
        const creds = deviceCredentials({
          ...own,
          timestamp: String(rng.int(1e13)),
          signClientId: rng.text(10) || 'c',
        });
        const login = encode({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          keepalive: 30,
          clientId: creds.clientId,
          username: creds.username,
          password: Buffer.from(creds.password),
        });
        write(conn, login);
        await waitFor(() => conn.closed || conn.packets.length > 0, 2000);
        const connack = conn.packets.find((p) => p.cmd === 'connack') as { returnCode?: number } | undefined;
        const code = connack ? String(connack.returnCode) : 'none';
        stats.connacks[code] = (stats.connacks[code] ?? 0) + 1;
        const count = scenario === 'qos2-flood' ? 50 : 10 + rng.int(50);
        for (let i = 1; i <= count && !conn.closed && !done(); i += 1) {
          const packet =
            scenario === 'qos2-flood'
              ? encode({
                  cmd: 'publish',
                  topic: `/sys/${own.productKey}/${own.deviceKey}/ota/device/inform`,
                  payload: gen.payload(),
                  qos: 2,
                  messageId: i,
                  retain: false,
                  dup: false,
                })
              : gen.sessionPacket(own, i);
          write(conn, packet);
          if (i % 10 === 0) await pause(1);
        }
      }
      await pause(rng.int(30));
      if (conn.closed) stats.closedByGateway += 1;
      conn.socket.destroy();
    }
  };

  await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => worker(i)));
  return stats;
}
