/**
 * Prometheus exposition shared by the three processes: a registry per
 * process (or per in-process gateway in tests) with Node's default process
 * metrics, the `/metrics` answer, and counters and gauges that are views over
 * numbers kept elsewhere, read at scrape time.
 */
import * as http from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters, which the exposition conventions (and promtool) reject.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  return registry;
}

/** Answers GET /metrics in Prometheus text format. */
export async function sendMetrics(registry: Registry, res: http.ServerResponse): Promise<void> {
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(body);
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}

type Labels<L extends string> = Partial<Record<L, string | number>>;

/**
 * A counter read from totals kept elsewhere (the gateway's plain counters are
 * bumped on every message; prom-client's own objects would cost more there).
 * `read` returns the current totals by label set.
 */
export function counterView<L extends string>(
  registry: Registry,
  spec: { name: string; help: string; labelNames?: readonly L[] },
  read: () => Array<[Labels<L>, number]>,
): Counter<L> {
  return new Counter<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

/** A gauge read at scrape time; `read` may be async (a database count) and returns values by label set. */
export function gaugeView<L extends string>(
  registry: Registry,
  spec: { name: string; help: string; labelNames?: readonly L[] },
  read: () => Array<[Labels<L>, number]> | Promise<Array<[Labels<L>, number]>>,
): Gauge<L> {
  return new Gauge<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    registers: [registry],
    async collect() {
      const values = await read();
      this.reset();
      for (const [labels, value] of values) this.set(labels, value);
    },
  });
}

/**
 * A small HTTP port for a process that has no other (the worker): GET /metrics
 * and GET /healthz (200 when `healthy()` says so, 503 otherwise).
 */
export async function startMetricsServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  healthy: () => { ok: boolean; detail: Record<string, unknown> };
}): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') return void sendMetrics(opts.registry, res);
    if (req.method === 'GET' && req.url === '/healthz') {
      const { ok, detail } = opts.healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ status: ok ? 'up' : 'down', ...detail }));
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'not found', details: [] } }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
