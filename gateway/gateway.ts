/**
 * The gateway: an Aedes broker inside this process that speaks the EnOS device
 * protocol (login signature, dynamic activation, per-device ACL, OTA topics,
 * presence), plus an HTTP port for health and metrics. Built as a function so
 * tests run it in-process on ephemeral ports (port 0).
 */
import type * as net from 'node:net';
import { Aedes } from 'aedes';
import type { Client } from 'aedes';
import type { Db } from 'mongodb';
import type { CommandHandover, UpgradeCommand } from '../activities/gateway-contracts';
import { DEFAULT_MQTT_LIMITS, defaultGatewayId, type Config } from '../config/config';
import { devicePresenceStore, devicesLeftOnline, type DevicePresenceStore } from '../db/device-presence';
import { sessionGatewayOf } from '../db/presence';
import { registerGateway } from '../db/gateway-directory';
import { findProductForLogin } from '../db/products';
import type { DeviceEvents } from '../orchestration/device-events';
import type { Logger } from '../runtime/log';
import { Activation } from './activation';
import { Commands } from './commands';
import { Delivery } from './delivery';
import { DurableDeviceEvents, type OutboxOptions } from './durable-events';
import { createCommandEndpoint } from './command-endpoint';
import { createHttpServer } from './http';
import { fileUrlSigner } from '../artifacts/signed-url';
import { createListeners, type Connection } from './listeners';
import { createAuthenticate } from './login';
import { LoginGuard } from './login-guard';
import { createMetrics, type GatewayMetrics } from './metrics';
import { OtaHandler } from './ota-handler';
import { Presence } from './presence';
import { gatewayRegistry } from './prometheus';
import { registryAccess } from './registry-access';
import { Revocation } from './revocation';
import { createRouting } from './routing';
import { KeyedSerialQueue } from './serial';
import { Sessions } from './sessions';
import { deviceId } from './topics';
import { NO_CERTIFICATE } from './tls';
import { KeyedBuckets } from './token-bucket';

export interface GatewayDeps {
  config: Pick<Config, 'mqttPort' | 'mqttHost' | 'gatewayHttpPort' | 'serviceMqttUsername' | 'serviceMqttPassword'> &
    Partial<
      Pick<
        Config,
        'gatewayHttpHost' | 'gatewayId' | 'gatewayCommandUrl' | 'firmwareFiles' | 'mqttTls' | 'gatewayOutboxMax'
      >
    > & {
      /** Defaults (config DEFAULT_MQTT_LIMITS) for what is not given. */
      mqttLimits?: Partial<Config['mqttLimits']>;
    };
  log: Logger;
  /** The registry database (collections `devices` and `products`). */
  db: Db;
  /** What the gateway tells the orchestration (Temporal in production, a recorder in tests). */
  events: DeviceEvents;
  /** The registry adapter (default: db/device-presence.ts over `db`); the benchmark wraps it to time calls. */
  presenceStore?: DevicePresenceStore;
  /** How long getversion waits for an offer before answering [] (default 5 s). */
  getversionTimeoutMs?: number;
  /** Retries and outbox of device events (gateway/durable-events.ts); tests shorten the intervals. */
  outbox?: Partial<OutboxOptions>;
}

export interface Gateway {
  broker: Aedes;
  mqttPort: number;
  /** The MQTT-over-TLS port, when TLS is configured. */
  mqttTlsPort: number | undefined;
  httpUrl: string;
  metrics: GatewayMetrics;
  /** Names this gateway in presence and in the gateway directory, where the worker finds its command endpoint. */
  gatewayId: string;
  /** Where the worker hands this gateway upgrade commands (its entry in the gateway directory). */
  commandUrl: string;
  /** Hands an upgrade command to the device's session here (what the command endpoint does). */
  deliverUpgradeCommand(command: UpgradeCommand, runId?: string): Promise<CommandHandover>;
  close(): Promise<void>;
}

export async function startGateway(deps: GatewayDeps): Promise<Gateway> {
  const { log } = deps;
  const limits = { ...DEFAULT_MQTT_LIMITS, ...deps.config.mqttLimits };
  const registry = registryAccess(deps.presenceStore ?? devicePresenceStore(deps.db));
  const metrics = createMetrics();
  const sessions = new Sessions();
  const queue = new KeyedSerialQueue();
  const reports = new KeyedSerialQueue();
  const gatewayId = deps.config.gatewayId ?? defaultGatewayId(deps.config.mqttPort);
  // Before any device can connect: what an earlier run left in the outbox goes first.
  const events = await DurableDeviceEvents.start(deps.events, {
    db: deps.db,
    gatewayId,
    metrics,
    log,
    options: {
      ...(deps.config.gatewayOutboxMax !== undefined && { maxEvents: deps.config.gatewayOutboxMax }),
      ...deps.outbox,
    },
  });
  const presence = new Presence({
    registry,
    events,
    queue,
    metrics,
    log,
    gatewayId,
    sessionGateway: (device) => sessionGatewayOf(deps.db, device),
  });
  const endReasons = new WeakMap<Client, string>();
  const connections = new WeakMap<Client, Connection>();
  const guard = new LoginGuard(limits);
  const end = (client: Client, reason: string) => {
    if (!endReasons.has(client)) endReasons.set(client, reason);
    client.close();
  };
  const revocation = new Revocation({
    sessions,
    registry,
    guard,
    metrics,
    log,
    end,
    intervalMs: limits.identityRecheckMs,
  });

  // Aedes 1.x sets up its persistence before the broker exists: creation is awaited.
  const broker = await Aedes.createBroker({ connectTimeout: limits.connectTimeoutMs });
  const delivery = new Delivery(broker, (client) => sessions.codecOf(client), limits.maxClientBacklogBytes, metrics);
  const activation = new Activation({ registry, delivery, metrics, log });
  const ota = new OtaHandler({
    registry,
    events,
    queue,
    reports,
    delivery,
    presence,
    metrics,
    log,
    getversionTimeoutMs: deps.getversionTimeoutMs ?? 5000,
    signFileUrl: deps.config.firmwareFiles && fileUrlSigner(deps.config.firmwareFiles),
    queueDepth: limits.deviceQueueDepth,
  });
  const authenticate = createAuthenticate({
    config: deps.config,
    findForLogin: registry.findForLogin,
    findProduct: (productKey) => findProductForLogin(deps.db, productKey),
    markActivated: (device) => activation.markActivated(device, 'first login with its device secret'),
    sessions,
    metrics,
    log,
    supersede: (older, device) => {
      log.info('closing the older session of a device that logged in again', { ...device, clientId: older.id });
      end(older, 'taken over by a newer session');
    },
    guard,
    addressOf: (client) => connections.get(client)?.address ?? 'unknown',
    clientCertificate: (client) => connections.get(client)?.certificate ?? NO_CERTIFICATE,
  });
  broker.authenticate = (client, username, password, done) =>
    authenticate(client, username, password, (error, success) => {
      // Logged in: packets up to the full limit from now on (a CONNECT's limit until then).
      if (success) connections.get(client)?.meter.setLimit(limits.maxPacketBytes);
      done(error, success);
    });
  const rates = new KeyedBuckets({ perSec: limits.deviceRatePerSec, burst: limits.deviceBurst }, limits.maxConnections);
  const commands = new Commands({
    sessions,
    delivery,
    revocation,
    metrics,
    log,
    signFileUrl: deps.config.firmwareFiles && fileUrlSigner(deps.config.firmwareFiles),
  });
  const routing = createRouting({ sessions, ota, activation, presence, commands, rates, metrics, log });
  broker.authorizePublish = routing.authorizePublish;
  broker.authorizeSubscribe = routing.authorizeSubscribe;
  broker.authorizeForward = delivery.authorizeForward;

  broker.on('clientReady', (client) => {
    const identity = sessions.identify(client);
    // Not the device being online: it only comes to fetch its secret.
    if (identity?.kind === 'activation') return activation.start(client, identity);
    if (identity?.kind !== 'device' || !sessions.isCurrent(client)) return;
    log.info('device connected', { ...identity.device, ...(identity.codec && { compress: identity.codec.name }) });
    void presence.connected(identity.device, identity.since);
  });
  broker.on('keepaliveTimeout', (client) => endReasons.set(client, 'keepalive timeout'));
  broker.on('clientError', (client, err) => {
    if (!endReasons.has(client)) endReasons.set(client, `socket error: ${err.message}`);
  });
  const sessionEnded = (client: Client) => {
    const identity = sessions.identify(client);
    if (identity && identity.kind !== 'service') rates.forget(`${identity.kind}:${deviceId(identity.device)}`);
    const reason = endReasons.get(client) ?? 'connection closed';
    if (identity?.kind === 'activation') {
      // Called twice per session (clientDisconnect and the socket's close): log once.
      if (activation.ended(client)) log.info('activation session closed', { ...identity.device, reason });
      return;
    }
    if (identity?.kind !== 'device') return;
    // A superseded session ending says nothing about the device: its newer session is live.
    if (!sessions.release(client)) {
      log.debug('older session closed', { ...identity.device, reason });
      return;
    }
    log.info('device disconnected', { ...identity.device, reason });
    void presence.disconnected(identity.device, reason);
  };
  broker.on('clientDisconnect', sessionEnded);

  // Before listening, so that a device's reconnect is written and told after its "offline".
  const leftOnline = await devicesLeftOnline(deps.db, gatewayId);
  for (const device of leftOnline) void presence.disconnected(device, 'gateway restarted');
  if (leftOnline.length > 0) {
    log.warn('marked offline the devices this gateway had online when it last stopped without closing them', {
      gatewayId,
      devices: leftOnline.length,
    });
  }

  const tlsConfig = deps.config.mqttTls;
  const listeners = createListeners(
    {
      broker,
      limits,
      metrics,
      log,
      accepted: (connection) => connections.set(connection.client, connection),
      // Aedes emits clientDisconnect only for registered clients; a session that
      // authenticated but died before its CONNACK still has to end.
      closed: sessionEnded,
    },
    tlsConfig,
  );
  await listen(listeners.plain, deps.config.mqttPort, deps.config.mqttHost);
  if (listeners.secure && tlsConfig) await listen(listeners.secure, tlsConfig.port, tlsConfig.host);
  const prometheus = gatewayRegistry(metrics, {
    connections: () => broker.connectedClients,
    queueDepths: () => ({ presence: queue.pendingKeys, reports: reports.pendingKeys }),
  });
  const deliverUpgradeCommand = async (command: UpgradeCommand, runId?: string): Promise<CommandHandover> => {
    const handover = await commands.deliverUpgrade(command);
    if (handover.delivery === 'delivered' && runId) {
      const device = { productKey: command.productKey, deviceKey: command.deviceKey };
      events.commandDelivered(device, runId, command.firmware.version);
    }
    return handover;
  };
  const httpServer = createHttpServer(
    () => ({ status: 'up', clients: broker.connectedClients }),
    metrics,
    prometheus,
    (device) => revocation.changed(device),
    createCommandEndpoint({ secret: deps.config.serviceMqttPassword, deliver: deliverUpgradeCommand, log }),
  );
  // Loopback unless configured: the API and the worker of other containers (compose) must reach it then.
  await listen(httpServer, deps.config.gatewayHttpPort, deps.config.gatewayHttpHost ?? '127.0.0.1');
  revocation.start();

  const mqttPort = (listeners.plain.address() as net.AddressInfo).port;
  const mqttTlsPort = listeners.secure ? (listeners.secure.address() as net.AddressInfo).port : undefined;
  const httpPort = (httpServer.address() as net.AddressInfo).port;
  const servers = [listeners.plain, httpServer, ...(listeners.secure ? [listeners.secure] : [])];
  // Last, once it can take them: from here on the worker hands this gateway the commands of its devices.
  const commandUrl = deps.config.gatewayCommandUrl ?? `http://127.0.0.1:${httpPort}/commands`;
  await registerGateway(deps.db, gatewayId, commandUrl);
  return {
    broker,
    mqttPort,
    mqttTlsPort,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    metrics,
    gatewayId,
    commandUrl,
    deliverUpgradeCommand,
    async close() {
      revocation.stop();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await Promise.all(servers.map(closeServer));
      // Let the offline writes of the sessions just closed reach the registry.
      await queue.drain();
      await reports.drain();
      await events.close();
    },
  };
}

function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
