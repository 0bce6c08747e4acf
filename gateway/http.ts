/**
 * The gateway's small HTTP port: GET /healthz, GET /metrics (Prometheus text),
 * GET /metrics.json (its counters as JSON), POST /registry-changed, by which
 * the API says a device was deleted, and POST /commands, by which the worker
 * hands it upgrade commands (gateway/command-endpoint.ts, the service secret
 * required). The notice carries no authority: the gateway only re-reads the
 * registry, so a forged one costs a lookup and changes nothing.
 */
import * as http from 'node:http';
import type { Registry } from 'prom-client';
import { COMMANDS_PATH, problem, type createCommandEndpoint } from './command-endpoint';
import { readBody } from '../runtime/http-body';
import type { DeviceRef } from '../orchestration/device-events';
import { sendMetrics } from '../runtime/metrics';
import type { GatewayMetrics } from './metrics';

/** A notice names one device; anything longer is not one. */
const MAX_NOTICE_BYTES = 4096;

export function createHttpServer(
  health: () => { status: string; clients: number },
  metrics: GatewayMetrics,
  registry: Registry,
  registryChanged: (device: DeviceRef | undefined) => Promise<unknown>,
  commands: ReturnType<typeof createCommandEndpoint>,
): http.Server {
  return http.createServer((req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { ...headers, 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === COMMANDS_PATH) return commands(req, send);
    if (req.method === 'GET' && req.url === '/healthz') return send(200, health());
    if (req.method === 'GET' && req.url === '/metrics') return void sendMetrics(registry, res);
    if (req.method === 'GET' && req.url === '/metrics.json') {
      const { offerLatency: _histogram, ...counters } = metrics;
      return send(200, counters);
    }
    if (req.method === 'POST' && req.url === '/registry-changed') {
      return readNotice(req).then(
        (device) => registryChanged(device).then(() => send(200, { rechecked: device ?? 'all' })),
        (err: Error) => send(400, problem('bad_request', err.message)),
      );
    }
    send(404, problem('not_found', 'not found'));
  });
}

/** `{ "productKey", "deviceKey" }` re-checks that device; an empty body re-checks every live session. */
async function readNotice(req: http.IncomingMessage): Promise<DeviceRef | undefined> {
  const text = (await readBody(req, MAX_NOTICE_BYTES, 'a notice')).trim();
  if (text === '') return undefined;
  try {
    const body = JSON.parse(text) as Partial<DeviceRef> | null;
    if (typeof body?.productKey === 'string' && typeof body.deviceKey === 'string') {
      return { productKey: body.productKey, deviceKey: body.deviceKey };
    }
  } catch {
    // answered below
  }
  throw new Error('the body must be {"productKey": string, "deviceKey": string} or empty');
}
