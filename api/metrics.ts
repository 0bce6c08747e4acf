/**
 * The API's Prometheus registry: HTTP requests by route and status, and the
 * fleet figures a scrape reads afresh (tasks by status, devices of active
 * rollouts by status, the Temporal task queue's backlog).
 */
import type * as http from 'node:http';
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Db } from 'mongodb';
import { Counter, Histogram, type Registry } from 'prom-client';
import { activeRolloutDevicesByStatus, tasksByStatus } from '../db/rollout-stats';
import type { Logger } from '../runtime/log';
import { createRegistry, gaugeView, sendMetrics } from '../runtime/metrics';

export interface ApiMetricsDeps {
  db: Db;
  temporal: Connection;
  namespace: string;
  taskQueue: string;
  log: Logger;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
/** What Express leaves on a request it routed. */
type Routed = http.IncomingMessage & { baseUrl?: string; route?: { path?: unknown } };

const QUEUE_TYPES = {
  workflow: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  activity: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
} as const;
const TEMPORAL_TIMEOUT_MS = 2000;

export function apiRegistry(deps: ApiMetricsDeps): {
  registry: Registry;
  /** Serves GET /metrics and times every other request handled by `app`. */
  wrap(app: Handler): Handler;
} {
  const registry = createRegistry();
  const requests = new Counter({
    name: 'ota_api_http_requests_total',
    help: 'HTTP requests answered, by method, route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'ota_api_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  gaugeView(
    registry,
    { name: 'ota_upgrade_tasks', help: 'Upgrade tasks and verifications by status.', labelNames: ['status'] },
    async () => Object.entries(await tasksByStatus(deps.db)).map(([status, n]) => [{ status }, n]),
  );
  gaugeView(
    registry,
    {
      name: 'ota_rollout_devices',
      help: 'Devices of waiting, running and paused tasks, by upgrade record status.',
      labelNames: ['status'],
    },
    async () => Object.entries(await activeRolloutDevicesByStatus(deps.db)).map(([status, n]) => [{ status }, n]),
  );
  gaugeView(
    registry,
    {
      name: 'ota_temporal_task_queue_backlog',
      help: "Tasks waiting for a worker on the service's Temporal task queue (approximate), by type.",
      labelNames: ['task_queue', 'type'],
    },
    () => taskQueueBacklog(deps),
  );

  return {
    registry,
    wrap: (app) => (req, res) => {
      if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') return void sendMetrics(registry, res);
      const end = duration.startTimer();
      res.once('finish', () => {
        const routed = req as Routed;
        // A matched route's pattern, never the raw path: ids would make a series per device.
        const route = routeLabel(routed);
        const method = req.method ?? 'GET';
        requests.inc({ method, route, status: res.statusCode });
        end({ method, route });
      });
      app(req, res);
    },
  };
}

/** A matched route's pattern (a literal regular expression route as its path); `other` for static files and 404s. */
function routeLabel(req: Routed): string {
  const pattern = req.route?.path;
  const base = req.baseUrl ?? '';
  if (typeof pattern === 'string') return `${base}${pattern}`;
  if (pattern instanceof RegExp) return `${base}${pattern.source.replace(/^\^|\$$/g, '').replace(/\\(.)/g, '$1')}`;
  return 'other';
}

/** Empty when Temporal does not answer: a scrape must not fail because one dependency is down. */
async function taskQueueBacklog(deps: ApiMetricsDeps): Promise<Array<[Record<string, string>, number]>> {
  const out: Array<[Record<string, string>, number]> = [];
  for (const [type, taskQueueType] of Object.entries(QUEUE_TYPES)) {
    try {
      const res = await deps.temporal.withDeadline(Date.now() + TEMPORAL_TIMEOUT_MS, () =>
        deps.temporal.workflowService.describeTaskQueue({
          namespace: deps.namespace,
          taskQueue: { name: deps.taskQueue },
          taskQueueType,
          reportStats: true,
        }),
      );
      out.push([{ task_queue: deps.taskQueue, type }, Number(res.stats?.approximateBacklogCount ?? 0)]);
    } catch (err) {
      deps.log.debug('task queue backlog unavailable for /metrics', { type, err });
    }
  }
  return out;
}
