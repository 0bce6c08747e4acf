/**
 * A raw MQTT connection for tests that must send what no client library
 * would: packets announcing more than they carry, QoS 2 without PUBREL,
 * bytes at the pace the test chooses. Packets are written and read with
 * mqtt-packet, the broker's own codec.
 */
import * as net from 'node:net';
import { generate, parser, type Packet } from 'mqtt-packet';
import { deviceCredentials } from '../../gateway/auth';
import type { TestDevice } from './support';

export interface RawConnection {
  socket: net.Socket;
  /** Packets the gateway sent. */
  received: Packet[];
  /** Resolves when the gateway (or anything) closed the socket. */
  closed: Promise<void>;
  isClosed(): boolean;
  send(packet: Packet): void;
  /** Writes, waiting for the socket to drain; resolves false once the socket closed. */
  write(bytes: Buffer): Promise<boolean>;
}

export function openRaw(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const received: Packet[] = [];
    const p = parser({ protocolVersion: 4 });
    p.on('packet', (packet: Packet) => received.push(packet));
    p.on('error', () => undefined);
    socket.on('data', (chunk) => p.parse(chunk));
    socket.on('error', () => undefined);
    let isClosed = false;
    const closed = new Promise<void>((done) =>
      socket.once('close', () => {
        isClosed = true;
        done();
      }),
    );
    socket.once('connect', () =>
      resolve({
        socket,
        received,
        closed,
        isClosed: () => isClosed,
        send: (packet) => {
          if (!isClosed) socket.write(generate(packet));
        },
        write: (bytes) =>
          new Promise((done) => {
            if (isClosed) return done(false);
            const ok = socket.write(bytes, () => undefined);
            if (ok) return setImmediate(() => done(!isClosed));
            const onClose = () => done(false);
            socket.once('close', onClose);
            socket.once('drain', () => {
              socket.off('close', onClose);
              done(!isClosed);
            });
          }),
      }),
    );
    socket.once('error', reject);
  });
}

/** The CONNECT a device SDK sends. */
export function deviceConnect(device: TestDevice, extra: { clean?: boolean; clientId?: string } = {}): Packet {
  const creds = deviceCredentials({ ...device, timestamp: '1716900000000' });
  return {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: extra.clean ?? true,
    keepalive: 60,
    clientId: extra.clientId ?? creds.clientId,
    username: creds.username,
    password: Buffer.from(creds.password),
  };
}

/** The first bytes of a packet announcing `length` bytes after its fixed header. */
export function announce(firstByte: number, length: number): Buffer {
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
