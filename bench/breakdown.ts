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
  ['timed-out workflow tasks', (t) => t === 'EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT'],
  ['activities', (t) => t === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED'],
  ['local activities', (t) => t === 'EVENT_TYPE_MARKER_RECORDED'],
  ['signals received', (t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED'],
  ['signals sent', (t) => t === 'EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED'],
  ['timers', (t) => t === 'EVENT_TYPE_TIMER_STARTED'],
  ['updates', (t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED'],
  ['continue-as-new', (t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW'],
];

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Counts of history events by kind, plus "events" for all of them. */
async function historyCounts(client: Client, workflowId: string, runId?: string): Promise<Record<string, number>> {
  return countsOf((await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? []);
}

function countsOf(events: HistoryEvent[]): Record<string, number> {
  const out: Record<string, number> = { events: events.length };
  for (const event of events) {
    const name = nameOf(event);
    for (const [kind, match] of EVENT_KINDS) if (match(name)) out[kind] = (out[kind] ?? 0) + 1;
    // A task the server refused or the worker failed, by cause: work done twice.
    const failed = event.workflowTaskFailedEventAttributes;
    if (failed) {
      const kind = `failed workflow tasks (${failureCauseName(failed.cause)})`;
      out[kind] = (out[kind] ?? 0) + 1;
    }
  }
  return out;
}

const nameOf = (event: HistoryEvent): string =>
  typeof event.eventType === 'number' ? eventTypeName(event.eventType) : String(event.eventType ?? '');

/**
 * Where one device workflow's time went, in ms: waiting for its first workflow task, that task
 * (the claim, the command handed to the gateway and the `pushed` write, all local activities),
 * the device's first report counted from that task's start (it often comes while the task
 * still runs), and from the last report to its end.
 */
function phasesOf(events: HistoryEvent[]): Record<string, number> {
  const at = (e: HistoryEvent | undefined) =>
    e?.eventTime ? Number(e.eventTime.seconds ?? 0) * 1000 + (e.eventTime.nanos ?? 0) / 1e6 : NaN;
  const first = (type: string, after = 0) => events.find((e, i) => i >= after && nameOf(e) === `EVENT_TYPE_${type}`);
  const index = (e: HistoryEvent | undefined) => (e ? events.indexOf(e) : events.length);
  const started = events[0];
  const firstTask = first('WORKFLOW_TASK_STARTED');
  const firstTaskDone = first('WORKFLOW_TASK_COMPLETED', index(firstTask));
  const report = first('WORKFLOW_EXECUTION_SIGNALED', index(firstTask));
  const closed = events[events.length - 1];
  const lastReport = [...events].reverse().find((e) => nameOf(e) === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED');
  const lastTask = first('WORKFLOW_TASK_STARTED', index(lastReport));
  const phases: Record<string, number> = {
    'to first workflow task': at(firstTask) - at(started),
    'that task (claim, command, pushed write)': at(firstTaskDone) - at(firstTask),
    "first report, from that task's start": at(report) - at(firstTask),
    'last report to its workflow task': at(lastTask) - at(lastReport),
    'that task to end': at(closed) - at(lastTask),
    total: at(closed) - at(started),
  };
  return Object.fromEntries(Object.entries(phases).filter(([, ms]) => Number.isFinite(ms)));
}

/** fetchHistory decodes enums as numbers: their names, for reading. */
const eventTypeName = (n: number): string => temporal.api.enums.v1.EventType[n] ?? String(n);
const failureCauseName = (cause: unknown): string =>
  typeof cause === 'number'
    ? (temporal.api.enums.v1.WorkflowTaskFailedCause[cause] ?? String(cause)).replace('WORKFLOW_TASK_FAILED_CAUSE_', '')
    : String(cause ?? 'unknown');

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
  /** Mean ms of one device workflow's phases (phasesOf). */
  phases: Record<string, number>;
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
  const phases: Record<string, number> = {};
  for (const d of picked) {
    const history = await client.workflow.getHandle(d.workflowId, d.runId).fetchHistory();
    add(deviceWorkflow, countsOf(history.events ?? []), 1 / picked.length);
    add(phases, phasesOf(history.events ?? []), 1 / picked.length);
  }
  const perDevice: Record<string, number> = {};
  add(perDevice, taskShare);
  add(perDevice, deviceWorkflow, devices.length / n);
  perDevice['workflow starts'] += devices.length / n;
  return { perDevice, taskShare, deviceWorkflow, phases, deviceWorkflows: devices.length, sampled: picked.length };
}

export const formatPerDevice = (perDevice: Record<string, number>): string =>
  Object.entries(perDevice)
    .filter(([, v]) => v >= 0.005)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
