/** The gateway's small HTTP port: GET /healthz and GET /metrics (JSON). */
import * as http from 'node:http';
import type { GatewayMetrics } from './metrics';

export function createHttpServer(
  health: () => { status: string; clients: number },
  metrics: GatewayMetrics,
): http.Server {
  return http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/healthz') return send(200, health());
    if (req.method === 'GET' && req.url === '/metrics') return send(200, metrics);
    send(404, { error: { code: 'not_found', message: 'not found', details: [] } });
  });
}
