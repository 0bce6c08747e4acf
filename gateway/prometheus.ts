/**
 * The gateway's Prometheus registry: its plain counters (gateway/metrics.ts)
 * under Prometheus names, read at scrape time, plus what only a scrape can
 * see (sessions connected now, devices with work queued).
 */
import type { Registry } from 'prom-client';
import { counterView, createRegistry, gaugeView } from '../runtime/metrics';
import type { GatewayMetrics } from './metrics';

export interface GatewayLive {
  /** MQTT sessions connected now (devices, activation sessions and the service client). */
  connections(): number;
  /** Devices with presence writes or reports waiting in their per-device queue. */
  queueDepths(): { presence: number; reports: number };
}

const entries = (counts: Record<string, number>) => Object.entries(counts);

export function gatewayRegistry(m: GatewayMetrics, live: GatewayLive): Registry {
  const r = createRegistry();
  r.registerMetric(m.offerLatency);
  gaugeView(r, { name: 'ota_gateway_mqtt_connections', help: 'MQTT sessions connected now.' }, () => [
    [{}, live.connections()],
  ]);
  counterView(r, { name: 'ota_gateway_logins_accepted_total', help: 'MQTT logins accepted.' }, () => [
    [{}, m.connections.accepted],
  ]);
  counterView(
    r,
    { name: 'ota_gateway_logins_refused_total', help: 'MQTT logins refused, by reason.', labelNames: ['reason'] },
    () => entries(m.connections.refused).map(([reason, n]) => [{ reason }, n]),
  );
  counterView(
    r,
    {
      name: 'ota_gateway_messages_total',
      help: 'Messages published by devices, by kind (inform, progress, getversion, ...; refused: denied by the ACL).',
      labelNames: ['kind'],
    },
    () => entries(m.messages).map(([kind, n]) => [{ kind }, n]),
  );
  counterView(
    r,
    {
      name: 'ota_gateway_commands_total',
      help: 'Upgrade commands pushed to devices, by result.',
      labelNames: ['result'],
    },
    () => [
      [{ result: 'delivered' }, m.commands.delivered],
      [{ result: 'undelivered' }, m.commands.undelivered],
    ],
  );
  counterView(r, { name: 'ota_gateway_replies_sent_total', help: 'Replies sent to device requests.' }, () => [
    [{}, m.repliesSent],
  ]);
  counterView(
    r,
    { name: 'ota_gateway_malformed_payloads_total', help: 'Device messages refused as malformed.' },
    () => [[{}, m.malformedPayloads]],
  );
  counterView(
    r,
    { name: 'ota_gateway_activations_total', help: 'Dynamic activation steps, by result.', labelNames: ['result'] },
    () => entries(m.activations).map(([result, n]) => [{ result }, n]),
  );
  counterView(r, { name: 'ota_gateway_subscriptions_refused_total', help: 'Subscriptions denied by the ACL.' }, () => [
    [{}, m.subscriptionsRefused],
  ]);
  counterView(
    r,
    {
      name: 'ota_gateway_getversion_timeouts_total',
      help: 'getversion requests answered [] for want of an offer in time.',
    },
    () => [[{}, m.getversionTimeouts]],
  );
  counterView(
    r,
    {
      name: 'ota_gateway_dependency_errors_total',
      help: 'Failed calls to the orchestration (Temporal) or the registry (database).',
      labelNames: ['dependency'],
    },
    () => [
      [{ dependency: 'orchestration' }, m.orchestrationErrors],
      [{ dependency: 'database' }, m.databaseErrors],
    ],
  );
  counterView(
    r,
    {
      name: 'ota_gateway_outbox_events_total',
      help: 'Device events the orchestration did not take at once: retried, kept in the outbox, delivered from it, dropped from it.',
      labelNames: ['result'],
    },
    () => [
      [{ result: 'retried' }, m.outbox.retries],
      [{ result: 'kept' }, m.outbox.appended],
      [{ result: 'delivered' }, m.outbox.delivered],
      [{ result: 'dropped' }, m.outbox.dropped],
    ],
  );
  gaugeView(r, { name: 'ota_gateway_outbox_depth', help: 'Device events waiting in the outbox.' }, () => [
    [{}, m.outbox.depth],
  ]);
  gaugeView(
    r,
    {
      name: 'ota_gateway_queue_depth',
      help: 'Devices with work waiting in a per-device queue (presence writes, reports to the orchestration).',
      labelNames: ['queue'],
    },
    () => {
      const d = live.queueDepths();
      return [
        [{ queue: 'presence' }, d.presence],
        [{ queue: 'reports' }, d.reports],
      ];
    },
  );
  return r;
}
