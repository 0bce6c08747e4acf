/**
 * What each CLI command does: one API call (or a polling loop, for watch),
 * printed as a short table, or as the API's JSON with --json.
 */
import { ApiClient } from './api-client';
import { drawProgress, type TaskView } from './progress-view';

export interface Output {
  write(text: string): void;
  /** Redraw in place (a terminal) rather than print each change on new lines. */
  isTTY: boolean;
}

export interface CommandContext {
  api: ApiClient;
  out: Output;
  json: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

interface TaskSummary extends TaskView {
  strategy: string;
  method: string;
  targetVersion: string;
  createdAt: string;
  pauseReason?: string | null;
  stagePhase?: string;
}
interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
interface RecordView {
  deviceKey: string;
  status: string;
  waitReason: string | null;
  fromVersion: string | null;
  toVersion: string;
  progress: number;
  attempts: number;
  failure: { code: string; reason: string } | null;
}

const FINAL_TASK_STATUSES = new Set(['completed', 'cancelled']);

function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : '';
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, i) => cell.padEnd(widths[i]))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

const taskPath = (taskId: string) => `/v1/upgrade-tasks/${encodeURIComponent(taskId)}`;

function required(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`missing ${what}`);
  return value;
}

export async function listTasks(
  ctx: CommandContext,
  opts: { status?: string; firmware?: string; limit?: string; cursor?: string },
) {
  const page = await ctx.api.request<Page<TaskSummary>>(
    'GET',
    `/v1/upgrade-tasks${query({ status: opts.status, firmwareId: opts.firmware, limit: opts.limit, cursor: opts.cursor })}`,
  );
  if (ctx.json) return ctx.out.write(`${JSON.stringify(page, null, 2)}\n`);
  if (page.items.length === 0) return ctx.out.write('no upgrade tasks\n');
  ctx.out.write(
    table([
      ['TASK', 'STATUS', 'KIND', 'TARGET', 'CREATED', 'NAME'],
      ...page.items.map((t) => [t.taskId, t.status, `${t.strategy}/${t.method}`, t.targetVersion, t.createdAt, t.name]),
    ]),
  );
  if (page.nextCursor) ctx.out.write(`next page: --cursor ${page.nextCursor}\n`);
}

export async function showTask(ctx: CommandContext, taskId: string | undefined) {
  const task = await ctx.api.request<TaskSummary>('GET', taskPath(required(taskId, 'task id')));
  if (ctx.json) return ctx.out.write(`${JSON.stringify(task, null, 2)}\n`);
  ctx.out.write(`${task.taskId}  ${task.strategy}/${task.method} → ${task.targetVersion}\n`);
  ctx.out.write(`${drawProgress(task)}\n`);
  if (task.status === 'paused' && task.pauseReason) ctx.out.write(`  paused: ${task.pauseReason}\n`);
  if (task.stagePhase) ctx.out.write(`  stage: ${task.stagePhase}\n`);
}

/** Polls the task and redraws its progress until it completes or is cancelled. */
export async function watchTask(ctx: CommandContext, taskId: string | undefined, intervalMs: number) {
  const route = taskPath(required(taskId, 'task id'));
  let previous = '';
  let lines = 0;
  for (;;) {
    const task = await ctx.api.request<TaskSummary>('GET', route);
    const view = drawProgress(task);
    if (view !== previous) {
      // On a terminal the view is redrawn where it was; a pipe gets each change once.
      if (ctx.out.isTTY && lines > 0) ctx.out.write(`\x1b[${lines}A\r`);
      ctx.out.write(`${view}\n`);
      lines = view.split('\n').length;
      previous = view;
    }
    if (FINAL_TASK_STATUSES.has(task.status)) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function listDevices(
  ctx: CommandContext,
  taskId: string | undefined,
  opts: { status?: string; deviceKey?: string; limit?: string; cursor?: string },
) {
  const q = query({ status: opts.status, deviceKey: opts.deviceKey, limit: opts.limit, cursor: opts.cursor });
  const page = await ctx.api.request<Page<RecordView>>('GET', `${taskPath(required(taskId, 'task id'))}/devices${q}`);
  if (ctx.json) return ctx.out.write(`${JSON.stringify(page, null, 2)}\n`);
  if (page.items.length === 0) return ctx.out.write('no device records\n');
  ctx.out.write(
    table([
      ['DEVICE', 'STATUS', 'WHY / FAILURE', 'VERSION', 'PROGRESS', 'ATTEMPTS'],
      ...page.items.map((r) => [
        r.deviceKey,
        r.status,
        r.failure ? `${r.failure.code}: ${r.failure.reason}` : (r.waitReason ?? ''),
        `${r.fromVersion ?? '?'} → ${r.toVersion}`,
        `${r.progress}%`,
        String(r.attempts),
      ]),
    ]),
  );
  if (page.nextCursor) ctx.out.write(`next page: --cursor ${page.nextCursor}\n`);
}

export async function createTask(ctx: CommandContext, body: unknown) {
  const task = await ctx.api.request<TaskSummary>('POST', '/v1/upgrade-tasks', body);
  if (ctx.json) return ctx.out.write(`${JSON.stringify(task, null, 2)}\n`);
  ctx.out.write(`created ${task.taskId} (${task.status})\n`);
}

export async function controlTask(ctx: CommandContext, action: 'pause' | 'resume' | 'cancel', taskId?: string) {
  const id = required(taskId, 'task id');
  const task = await ctx.api.request<TaskSummary>('POST', `${taskPath(id)}/${action}`);
  if (ctx.json) return ctx.out.write(`${JSON.stringify(task, null, 2)}\n`);
  ctx.out.write(`${action} requested for ${id}\n`);
}

export async function retryTask(ctx: CommandContext, taskId: string | undefined, deviceKeys: string[]) {
  const id = required(taskId, 'task id');
  const answer = await ctx.api.request<{ retried: number }>(
    'POST',
    `${taskPath(id)}/retry`,
    deviceKeys.length > 0 ? { deviceKeys } : {},
  );
  if (ctx.json) return ctx.out.write(`${JSON.stringify(answer, null, 2)}\n`);
  ctx.out.write(`${answer.retried} failed device(s) of ${id} will be pushed again\n`);
}
