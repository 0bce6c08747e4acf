/** The gateway's small HTTP port: GET /healthz, GET /metrics (Prometheus text) and GET /metrics.json (its counters as JSON). */
import * as http from 'node:http';
import type { Registry } from 'prom-client';
import { sendMetrics } from '../runtime/metrics';
import type { GatewayMetrics } from './metrics';

export function createHttpServer(
  health: () => { status: string; clients: number },
  metrics: GatewayMetrics,
  registry: Registry,
): http.Server {
  return http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/healthz') return send(200, health());
    if (req.method === 'GET' && req.url === '/metrics') return void sendMetrics(registry, res);
    if (req.method === 'GET' && req.url === '/metrics.json') {
      const { offerLatency: _histogram, ...counters } = metrics;
      return send(200, counters);
    }
    send(404, { error: { code: 'not_found', message: 'not found', details: [] } });
  });
}
