/**
 * Where a rollout's work goes, per device: Temporal actions read from the
 * histories (the task workflow's, and a sample of the device workflows'),
 * and database commands from the server's own per-command counters
 * (serverStatus.metrics.commands, kept by both MongoDB and FerretDB).
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Db } from 'mongodb';

/** Commands served so far, by name. */
export async function dbCommandCounts(db: Db): Promise<Record<string, number>> {
  const status = await db.admin().command({ serverStatus: 1 });
  const commands = (status.metrics?.commands ?? {}) as Record<string, { total?: unknown }>;
  const out: Record<string, number> = {};
  for (const [name, c] of Object.entries(commands)) {
    const total = Number(c?.total ?? 0);
    if (Number.isFinite(total)) out[name] = total;
  }
  return out;
}

/** Commands served between two readings, per device, largest first, as "update 3.02, find 2.5, …". */
export function perDeviceCommands(before: Record<string, number>, after: Record<string, number>, n: number) {
  const rows = Object.entries(after)
    .map(([name, total]) => [name, (total - (before[name] ?? 0)) / n] as const)
    .filter(([, perDevice]) => perDevice >= 0.005)
    .sort((a, b) => b[1] - a[1]);
  const sum = rows.reduce((a, [, v]) => a + v, 0);
  return { total: sum, text: rows.map(([name, v]) => `${name} ${v.toFixed(2)}`).join(', ') };
}

const EVENT_KINDS: Array<[string, (type: string) => boolean]> = [
  ['workflow tasks', (t) => t === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED'],
  ['activities', (t) => t === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED'],
  ['local activities', (t) => t === 'EVENT_TYPE_MARKER_RECORDED'],
  ['signals received', (t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED'],
  ['signals sent', (t) => t === 'EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED'],
  ['timers', (t) => t === 'EVENT_TYPE_TIMER_STARTED'],
  ['updates', (t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED'],
  ['continue-as-new', (t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW'],
];

/** Counts of history events by kind, plus "events" for all of them. */
async function historyCounts(client: Client, workflowId: string, runId?: string): Promise<Record<string, number>> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const out: Record<string, number> = { events: history.events?.length ?? 0 };
  for (const event of history.events ?? []) {
    const type = String(event.eventType ?? '');
    const name = typeof event.eventType === 'number' ? eventTypeName(event.eventType) : type;
    for (const [kind, match] of EVENT_KINDS) if (match(name)) out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}

/** fetchHistory decodes enums as numbers: their names, for reading. */
const eventTypeName = (n: number): string => temporal.api.enums.v1.EventType[n] ?? String(n);

const add = (into: Record<string, number>, from: Record<string, number>, scale = 1) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v * scale;
};

/**
 * Temporal actions per device of a finished task: the task workflow's (all
 * runs) spread over its n devices, plus the mean of `sample` device workflows;
 * also each part alone, to see which one a change moved.
 */
export async function temporalPerDevice(
  client: Client,
  taskId: string,
  n: number,
  sample = 40,
): Promise<{
  perDevice: Record<string, number>;
  taskShare: Record<string, number>;
  deviceWorkflow: Record<string, number>;
  deviceWorkflows: number;
  sampled: number;
}> {
  const taskShare: Record<string, number> = { 'workflow starts': 0 };
  let taskRuns = 0;
  for await (const run of client.workflow.list({ query: `WorkflowId = "${taskId}"` })) {
    add(taskShare, await historyCounts(client, taskId, run.runId), 1 / n);
    taskRuns += 1;
  }
  taskShare['workflow starts'] += taskRuns / n;
  const devices: Array<{ workflowId: string; runId: string }> = [];
  for await (const wf of client.workflow.list({
    // The task workflow carries the same OtaTaskId: it is counted above, as the task's share.
    query: `OtaTaskId = "${taskId}" AND WorkflowType = "deviceUpgradeWorkflow"`,
  })) {
    devices.push({ workflowId: wf.workflowId, runId: wf.runId });
  }
  const picked = devices.filter((_, i) => i % Math.max(1, Math.floor(devices.length / sample)) === 0).slice(0, sample);
  const deviceWorkflow: Record<string, number> = {};
  for (const d of picked) add(deviceWorkflow, await historyCounts(client, d.workflowId, d.runId), 1 / picked.length);
  const perDevice: Record<string, number> = {};
  add(perDevice, taskShare);
  add(perDevice, deviceWorkflow, devices.length / n);
  perDevice['workflow starts'] += devices.length / n;
  return { perDevice, taskShare, deviceWorkflow, deviceWorkflows: devices.length, sampled: picked.length };
}

export const formatPerDevice = (perDevice: Record<string, number>): string =>
  Object.entries(perDevice)
    .filter(([, v]) => v >= 0.005)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
