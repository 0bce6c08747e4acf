/**
 * The packets of the MQTT fuzzer (test/fuzz/mqtt-fuzzer.ts): valid ones from
 * mqtt-packet, then bent (bad UTF-8 spliced in, cut short, oversize headers),
 * from a seeded generator so a run can be replayed.
 */
import { generate, type IConnectPacket, type Packet } from 'mqtt-packet';
import { deviceCredentials } from '../../gateway/auth';
import type { DeviceRef } from '../../orchestration/device-events';
import { announce } from '../gateway/raw';

export interface FuzzDevice extends DeviceRef {
  deviceSecret: string;
}

export interface FuzzTargets {
  /** Registered devices the fuzzer may log in as (their presence and version are its to change). */
  own: FuzzDevice[];
  /** Devices it has no right to: their topics are targets. */
  foreign: DeviceRef[];
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

export function encode(packet: Packet): Buffer | undefined {
  try {
    return generate(packet);
  } catch {
    // mqtt-packet refuses some of what we ask for (e.g. a topic over 65535 bytes): skip those.
    return undefined;
  }
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

export class Generator {
  constructor(
    private readonly rng: Rng,
    private readonly opts: FuzzTargets,
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
