/**
 * The Aedes publish and subscribe hooks: the ACL decides, then device OTA
 * messages go to the OTA handler, an activation session's answer to the
 * activation handler, and service commands straight to the device's session.
 * Refused publishes are dropped (acknowledged, not routed) rather than
 * closing the connection, so a confused device does not enter a reconnect storm;
 * nothing keeps them (no retained messages, no persistent sessions). A device
 * publishing faster than its rate has the excess dropped and counted; an OTA
 * request among them is answered 429. QoS 2 is not served: its PUBLISH would
 * be held until a PUBREL that a hostile client never sends.
 */
import type { Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from '../runtime/log';
import { activationPublish, activationSubscribe, devicePublish, deviceSubscribe, servicePublish } from './acl';
import type { Activation } from './activation';
import { bump, type GatewayMetrics } from './metrics';
import type { OtaHandler } from './ota-handler';
import type { Presence } from './presence';
import type { Commands } from './commands';
import type { Sessions } from './sessions';
import type { KeyedBuckets } from './token-bucket';
import { deviceId } from './topics';

export interface RoutingDeps {
  sessions: Sessions;
  ota: OtaHandler;
  activation: Activation;
  presence: Presence;
  commands: Commands;
  /** Message-rate buckets of device and activation sessions. */
  rates: KeyedBuckets;
  metrics: GatewayMetrics;
  log: Logger;
}

/** Thrown back to Aedes only for clients we cannot identify at all, which closes them. */
class Unidentified extends Error {
  override readonly name = 'Unidentified';
}

/** Thrown back to Aedes for a QoS 2 PUBLISH, which closes the connection (MQTT 3.1.1 has no other refusal). */
class QosNotServed extends Error {
  override readonly name = 'QosNotServed';
}

const payloadOf = (packet: PublishPacket): Buffer =>
  Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);

export function createRouting(deps: RoutingDeps) {
  const { sessions, metrics, log } = deps;

  /** Dropped, acknowledged, counted and logged. */
  const refuse = (who: string, topic: string, reason: string, fields: object = {}): void => {
    bump(metrics.messages, 'refused');
    log.warn(`${who} publish refused`, { ...fields, topic, reason });
  };

  const deliverCommand = (packet: PublishPacket): void => {
    const decision = servicePublish(packet.topic);
    if (!decision.allow) return refuse('service', packet.topic, decision.reason);
    void deps.commands.send(decision.device, packet.topic, payloadOf(packet));
  };

  const authorizePublish = (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void) => {
    // Nothing we route is ever retained: a retained command would reach a later subscriber a second time.
    packet.retain = false;
    const identity = client ? sessions.identify(client) : undefined;
    if (!client || !identity) return callback(new Unidentified('publish from an unidentified client'));
    if (packet.qos === 2) {
      bump(metrics.dropped, 'qos2');
      log.warn('QoS 2 publish refused: closing the connection', {
        ...(identity.kind === 'service' ? { service: true } : identity.device),
        topic: packet.topic,
      });
      return callback(new QosNotServed('QoS 2 is not served'));
    }
    if (identity.kind === 'service') {
      deliverCommand(packet);
      return callback(null);
    }
    const rateKey = `${identity.kind}:${deviceId(identity.device)}`;
    if (!deps.rates.take(rateKey, Date.now())) {
      bump(metrics.dropped, 'rate');
      log.debug('publish over the device rate dropped', { ...identity.device, topic: packet.topic });
      if (identity.kind === 'device') deps.ota.tooMany(client, identity.device, packet.topic, payloadOf(packet));
      return callback(null);
    }
    if (identity.kind === 'activation') {
      const decision = activationPublish(identity.device, packet.topic);
      if (!decision.allow) {
        refuse('activation session', packet.topic, decision.reason, identity.device);
        return callback(null);
      }
      callback(null);
      deps.activation.handleReply(client, identity, payloadOf(packet));
      return;
    }
    const decision = devicePublish(identity.device, packet.topic);
    if (!decision.allow) {
      refuse('device', packet.topic, decision.reason, identity.device);
      return callback(null);
    }
    if (decision.route === 'ignore') {
      bump(metrics.messages, 'other');
      deps.presence.seen(identity.device);
      return callback(null);
    }
    // After the callback, so the PUBACK is not held up by our handling.
    callback(null);
    deps.ota.handle(client, identity.device, decision.kind, packet.topic, payloadOf(packet), identity.codec);
  };

  const authorizeSubscribe = (
    client: Client,
    sub: Subscription,
    callback: (error: Error | null, subscription?: Subscription | null) => void,
  ) => {
    const identity = sessions.identify(client);
    const allowed =
      (identity?.kind === 'device' && deviceSubscribe(identity.device, sub.topic)) ||
      (identity?.kind === 'activation' && activationSubscribe(identity.device, sub.topic));
    if (!allowed) {
      metrics.subscriptionsRefused += 1;
      log.warn('subscription refused', {
        ...(identity && identity.kind !== 'service' ? identity.device : { service: identity?.kind === 'service' }),
        topic: sub.topic,
      });
      // null: SUBACK 0x80 for this filter, the connection stays up.
      return callback(null, null);
    }
    // QoS 2 is not served (see above); grant at most 1.
    callback(null, sub.qos > 1 ? { ...sub, qos: 1 } : sub);
  };

  return { authorizePublish, authorizeSubscribe };
}
