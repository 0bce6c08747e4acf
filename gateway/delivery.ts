/**
 * Direct delivery to one client's session, bypassing subscriptions: EnOS SDKs
 * never SUBSCRIBE to command topics and may not have subscribed to `_reply`.
 * Subscription routing is switched off for device topics (authorizeForward),
 * so a device that did subscribe still gets each message exactly once.
 * Being the one way out, it is also where a compressed session's payloads
 * (replies and service commands alike) get compressed.
 */
import type { AedesPublishPacket, Client } from 'aedes';
import type { Aedes } from 'aedes';
import type { PayloadCodec } from './codec';
import { bump, type GatewayMetrics } from './metrics';

export class Delivery {
  /** Packets we send carry this broker id; authorizeForward lets only these through. */
  private readonly marker: string;
  private counter = 0;

  constructor(
    broker: Aedes,
    /** The client's payload codec; undefined (raw JSON) for most sessions. */
    private readonly codecOf: (client: Client) => PayloadCodec | undefined,
    /** Bytes waiting to be written to a client before more for it are dropped. */
    private readonly maxBacklogBytes: number,
    private readonly metrics: GatewayMetrics,
  ) {
    this.marker = `${broker.id}:direct`;
  }

  /** `payload` is plain JSON; a compressed session receives it in its codec. */
  send(client: Client, topic: string, payload: Buffer, qos: 0 | 1): Promise<boolean> {
    if (!client.connected || client.closed) return Promise.resolve(false);
    // A client that does not read would otherwise have every reply held for it in memory.
    if (client.conn.writableLength > this.maxBacklogBytes) {
      bump(this.metrics.dropped, 'backlog');
      return Promise.resolve(false);
    }
    const codec = this.codecOf(client);
    this.counter += 1;
    const packet: AedesPublishPacket = {
      cmd: 'publish',
      topic,
      payload: codec ? codec.encode(payload) : payload,
      qos,
      retain: false,
      dup: false,
      brokerId: this.marker,
      brokerCounter: this.counter,
    };
    return new Promise((resolve) => client.publish(packet, (err) => resolve(!err && !client.closed)));
  }

  /** The authorizeForward hook: only our direct deliveries reach clients. */
  readonly authorizeForward = (_client: Client, packet: AedesPublishPacket): AedesPublishPacket | null =>
    packet.brokerId === this.marker ? packet : null;
}
