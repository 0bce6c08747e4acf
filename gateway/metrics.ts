/**
 * The gateway's counters. Plain numbers: cheap to bump on every message. Served
 * in Prometheus text on GET /metrics (gateway/prometheus.ts reads them at
 * scrape time) and as they are on GET /metrics.json.
 */
import { Histogram } from 'prom-client';

export interface GatewayMetrics {
  connections: {
    accepted: number;
    refused: Record<string, number>;
    /** Open MQTT connections, TCP and TLS. */ open: number;
  };
  /** Upstream messages by topic kind (inform, progress, …, `other` for ignored own topics, `refused` for ACL). */
  messages: Record<string, number>;
  malformedPayloads: number;
  repliesSent: number;
  commands: { delivered: number; undelivered: number };
  /** Dynamic activation: secrets pushed, answers with 200, answers with another code. */
  activations: { pushed: number; acknowledged: number; declined: number };
  subscriptionsRefused: number;
  getversionTimeouts: number;
  orchestrationErrors: number;
  databaseErrors: number;
  /** Seconds from a getversion to its answer (the offer, or [] on timeout); not in the JSON view. */
  offerLatency: Histogram;
  /** Messages and packets dropped by a limit, by limit (`rate`, `queue`, `backlog`, `too_large`, …). */
  dropped: Record<string, number>;
  /** Sessions closed because their device left the registry. */
  sessionsRevoked: number;
  /**
   * Device events the orchestration did not take at once (gateway/durable-events.ts): tries repeated,
   * events kept in the outbox, delivered from it, dropped from it, and how many it holds now.
   */
  outbox: { retries: number; appended: number; delivered: number; dropped: number; depth: number };
}

export function createMetrics(): GatewayMetrics {
  return {
    connections: { accepted: 0, refused: {}, open: 0 },
    messages: {},
    malformedPayloads: 0,
    repliesSent: 0,
    commands: { delivered: 0, undelivered: 0 },
    activations: { pushed: 0, acknowledged: 0, declined: 0 },
    subscriptionsRefused: 0,
    getversionTimeouts: 0,
    orchestrationErrors: 0,
    databaseErrors: 0,
    // Registered by the gateway's Prometheus registry; the goal is an answer within 200 ms.
    offerLatency: new Histogram({
      name: 'ota_gateway_offer_latency_seconds',
      help: 'Time from a device getversion request to the firmware offer reply.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
      registers: [],
    }),
    dropped: {},
    sessionsRevoked: 0,
    outbox: { retries: 0, appended: 0, delivered: 0, dropped: 0, depth: 0 },
  };
}

export function bump(counters: Record<string, number>, key: string): void {
  counters[key] = (counters[key] ?? 0) + 1;
}
