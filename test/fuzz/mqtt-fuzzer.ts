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
import { parser, type Packet } from 'mqtt-packet';
import { deviceCredentials } from '../../gateway/auth';
import { announce } from '../gateway/raw';
import { encode, Generator, Rng, type FuzzTargets } from './mqtt-packets';

export interface FuzzOptions extends FuzzTargets {
  port: number;
  /** Stop once this many packets were written. */
  packets: number;
  /** Connections at once. */
  concurrency: number;
  seed: number;
}

export interface FuzzStats {
  packets: number;
  connections: number;
  /** Connections the gateway closed before the fuzzer did. */
  closedByGateway: number;
  connacks: Record<string, number>;
  scenarios: Record<string, number>;
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
