/**
 * The gateway's small HTTP port: GET /healthz, GET /metrics (Prometheus text),
 * GET /metrics.json (its counters as JSON), and POST /registry-changed, by which
 * the API says a device was deleted. The notice carries no authority: the gateway
 * only re-reads the registry, so a forged one costs a lookup and changes nothing.
 */
import * as http from 'node:http';
import type { Registry } from 'prom-client';
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
    if (req.method === 'POST' && req.url === '/registry-changed') {
      return readNotice(req).then(
        (device) => registryChanged(device).then(() => send(200, { rechecked: device ?? 'all' })),
        (err: Error) => send(400, { error: { code: 'bad_request', message: err.message, details: [] } }),
      );
    }
    send(404, { error: { code: 'not_found', message: 'not found', details: [] } });
  });
}

/** `{ "productKey", "deviceKey" }` re-checks that device; an empty body re-checks every live session. */
function readNotice(req: http.IncomingMessage): Promise<DeviceRef | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Drained and dropped, so the answer still reaches the caller.
      if (size <= MAX_NOTICE_BYTES) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_NOTICE_BYTES) return reject(new Error(`a notice is at most ${MAX_NOTICE_BYTES} bytes`));
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve(undefined);
      try {
        const body = JSON.parse(text) as Partial<DeviceRef> | null;
        if (typeof body?.productKey === 'string' && typeof body.deviceKey === 'string') {
          return resolve({ productKey: body.productKey, deviceKey: body.deviceKey });
        }
      } catch {
        // answered below
      }
      reject(new Error('the body must be {"productKey": string, "deviceKey": string} or empty'));
    });
  });
}
