/** The gateway's counters, served as JSON on GET /metrics. Plain numbers: cheap to bump on every message. */
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
  /** Messages and packets dropped by a limit, by limit (`rate`, `queue`, `backlog`, `too_large`, …). */
  dropped: Record<string, number>;
  /** Sessions closed because their device left the registry. */
  sessionsRevoked: number;
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
    dropped: {},
    sessionsRevoked: 0,
  };
}

export function bump(counters: Record<string, number>, key: string): void {
  counters[key] = (counters[key] ?? 0) + 1;
}
