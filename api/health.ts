/**
 * Live state of every dependency, asked afresh on each call (no cached
 * "up"), so /healthz turns 503 within a second or two of something dying.
 */
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Db } from 'mongodb';
import { pingDb } from '../db/mongo';

export type DependencyState = { status: 'up'; detail?: string } | { status: 'down'; error: string };
export interface HealthReport {
  status: 'up' | 'down';
  dependencies: Record<string, DependencyState>;
}

export interface HealthDeps {
  db: Db;
  temporal: Connection;
  namespace: string;
  taskQueue: string;
  gatewayUrl: string;
}

const TIMEOUT_MS = 1500;

export async function checkHealth(deps: HealthDeps): Promise<HealthReport> {
  const [database, temporalState, gateway, worker] = await Promise.all([
    probe(async () => {
      await pingDb(deps.db, TIMEOUT_MS);
      return undefined;
    }),
    probe(async () => {
      await deps.temporal.withDeadline(Date.now() + TIMEOUT_MS, () => deps.temporal.workflowService.getSystemInfo({}));
      return undefined;
    }),
    probe(async () => {
      const res = await fetch(`${deps.gatewayUrl}/healthz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (!res.ok) throw new Error(`gateway answered ${res.status}`);
      const body = (await res.json()) as { clients?: number };
      return `${body.clients ?? 0} MQTT clients connected`;
    }),
    probe(async () => {
      const res = await deps.temporal.withDeadline(Date.now() + TIMEOUT_MS, () =>
        deps.temporal.workflowService.describeTaskQueue({
          namespace: deps.namespace,
          taskQueue: { name: deps.taskQueue },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        }),
      );
      const pollers = res.pollers?.length ?? 0;
      if (pollers === 0) throw new Error(`no worker polls task queue "${deps.taskQueue}"`);
      return `${pollers} poller(s) on "${deps.taskQueue}"`;
    }),
  ]);
  const dependencies = { database, temporal: temporalState, gateway, worker };
  const status = Object.values(dependencies).every((d) => d.status === 'up') ? 'up' : 'down';
  return { status, dependencies };
}

async function probe(fn: () => Promise<string | undefined>): Promise<DependencyState> {
  try {
    const detail = await fn();
    return detail ? { status: 'up', detail } : { status: 'up' };
  } catch (err) {
    return { status: 'down', error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The report for a caller who may not see inside: each dependency's status
 * only. Error texts name hosts, ports and queues an outsider has no use for.
 */
export function withoutDetails(report: HealthReport): HealthReport {
  const dependencies = Object.fromEntries(
    Object.entries(report.dependencies).map(([name, d]): [string, DependencyState] =>
      d.status === 'up' ? [name, { status: 'up' }] : [name, { status: 'down', error: 'unavailable' }],
    ),
  );
  return { status: report.status, dependencies };
}
