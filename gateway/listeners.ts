/**
 * The device-facing listeners: plain MQTT, and MQTT over TLS when configured.
 * Each accepted connection is counted against the shared maximum, and its
 * bytes pass a FrameMeter before the broker's parser buffers them: a packet
 * announcing more than the limit (the CONNECT limit until the login
 * succeeded) closes the connection on its fixed header.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Aedes } from 'aedes';
import type { Client } from 'aedes';
import type { MqttLimits, MqttTlsConfig } from '../config/config';
import type { Logger } from '../runtime/log';
import { FrameMeter } from './frame-meter';
import { bump, type GatewayMetrics } from './metrics';
import { clientCertificateOf, NO_CERTIFICATE, tlsServerOptions, type ClientCertificate } from './tls';

export interface Connection {
  client: Client;
  address: string;
  certificate: ClientCertificate;
  meter: FrameMeter;
}

export interface ListenerDeps {
  broker: Aedes;
  limits: MqttLimits;
  metrics: GatewayMetrics;
  log: Logger;
  /** A connection was handed to the broker. */
  accepted(connection: Connection): void;
  /** Its socket closed (after the broker saw it close). */
  closed(client: Client): void;
}

export function createListeners(deps: ListenerDeps, tlsConfig: MqttTlsConfig | undefined) {
  const counts = deps.metrics.connections;
  // First listener on every raw TCP connection, TLS ones before their handshake.
  const admit = (socket: net.Socket): void => {
    if (counts.open >= deps.limits.maxConnections) {
      bump(counts.refused, 'too many connections');
      socket.destroy();
      return;
    }
    counts.open += 1;
    socket.once('close', () => {
      counts.open -= 1;
    });
  };

  const handle = (socket: net.Socket, certificate: ClientCertificate): void => {
    if (socket.destroyed) return;
    const client = deps.broker.handle(socket);
    const meter = new FrameMeter(deps.limits.maxConnectBytes);
    // With the broker's 'readable' listener in place, 'data' fires for each chunk it reads, before it parses it.
    socket.on('data', (chunk: Buffer) => {
      const verdict = meter.feed(chunk);
      if (verdict.ok || socket.destroyed) return;
      bump(deps.metrics.dropped, verdict.reason === 'too_large' ? 'too_large' : 'bad_length');
      deps.log.warn('closing a connection whose packet exceeds the limit', {
        address: socket.remoteAddress,
        reason: verdict.reason,
        ...(verdict.reason === 'too_large' && { announced: verdict.length }),
      });
      socket.destroy();
    });
    socket.once('close', () => deps.closed(client));
    deps.accepted({ client, address: socket.remoteAddress ?? 'unknown', certificate, meter });
  };

  const plain = net.createServer();
  plain.on('connection', admit);
  plain.on('connection', (socket: net.Socket) => handle(socket, NO_CERTIFICATE));

  let secure: tls.Server | undefined;
  if (tlsConfig) {
    secure = tls.createServer({ ...tlsServerOptions(tlsConfig), handshakeTimeout: deps.limits.connectTimeoutMs });
    secure.on('connection', admit);
    secure.on('secureConnection', (socket: tls.TLSSocket) =>
      handle(
        socket,
        tlsConfig.clientCertificates === 'off'
          ? NO_CERTIFICATE
          : clientCertificateOf(socket, tlsConfig.clientCertificates === 'required'),
      ),
    );
    // A failed handshake is the client's problem: counted, never an uncaught error.
    secure.on('tlsClientError', () => bump(deps.metrics.connections.refused, 'tls handshake failed'));
  }
  return { plain, secure };
}
