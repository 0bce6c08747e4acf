/**
 * The operator's reads at scale: detail-tab pages, a task with its counts and
 * the task list, timed over records and tasks written straight into the
 * database (seeding 100,000 records through a rollout would take an hour).
 * Used by the rollout benchmark and on its own by bench/reads.ts.
 */
import * as fs from 'node:fs';
import type { Db } from 'mongodb';
import { ensureAllIndexes } from '../db/all-indexes';
import { encodeListCursor } from '../db/paging';
import { recordId, recordsCollection, type RecordDoc } from '../db/records';
import { listRecords, listTasks, taskWithCounts } from '../db/task-reads';
import { tasksCollection, type TaskDoc } from '../db/tasks';
import type { RecordStatus } from '../domain/types';

/** The three reads, straight from the database modules or through the API. */
export interface Reader {
  page(task: TaskDoc, q: { status?: string; deviceKey?: string; limit: number; cursor?: string }): Promise<unknown>;
  task(task: TaskDoc): Promise<unknown>;
  list(q: { limit: number; cursor?: string }): Promise<{ nextCursor: string | null }>;
}

export const dbReader = (db: Db): Reader => ({
  page: (task, q) => listRecords(db, task, q),
  task: (task) => taskWithCounts(db, task),
  list: (q) => listTasks(db, q),
});

/** Over HTTP, as the web page reads them. */
export function apiReader(apiUrl: string): Reader {
  const get = async <T>(route: string, query: Record<string, string | number | undefined>): Promise<T> => {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    const res = await fetch(`${apiUrl}${route}?${qs}`);
    if (res.status !== 200) throw new Error(`GET ${route} → ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    page: (task, q) => get(`/v1/upgrade-tasks/${task.taskId}/devices`, q),
    task: (task) => get(`/v1/upgrade-tasks/${task.taskId}`, {}),
    list: (q) => get(`/v1/upgrade-tasks`, q),
  };
}

export interface Figure {
  what: string;
  ms: number;
  goalMs: number;
  /** The database process's CPU time per call (mean), when its pid is known: unlike `ms`, not inflated by other load. */
  dbCpuMs?: number;
}

/** CPU time (user + system) of a local process so far, in ms (10 ms resolution). */
export function processCpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
}

let dbPid: number | undefined;
/** Measure the database process's CPU per call too (it runs on this machine). */
export const watchDatabaseCpu = (pid: number | undefined): void => {
  dbPid = pid;
};

/** Median of `runs` timings after one warm-up call, and the database's mean CPU per call. */
async function median(runs: number, fn: () => Promise<unknown>): Promise<{ ms: number; dbCpuMs?: number }> {
  await fn();
  const times: number[] = [];
  const cpu0 = dbPid ? processCpuMs(dbPid) : 0;
  for (let i = 0; i < runs; i += 1) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return {
    ms: times[Math.floor(times.length / 2)],
    ...(dbPid ? { dbCpuMs: (processCpuMs(dbPid) - cpu0) / runs } : {}),
  };
}

export function seededTask(taskId: string, createdAt: Date, productKey = 'bench-reads'): TaskDoc {
  return {
    taskId,
    workflowId: taskId,
    kind: 'batch',
    name: taskId,
    productKey,
    firmwareId: `fw-${productKey}`,
    firmware: {
      version: '2.0.0',
      signMethod: 'md5',
      sign: '9e107d9d372bb6826bd81d3542a419d6',
      fileUrl: '/f',
      fileSize: 1,
    },
    sourceVersions: ['1.0.0'],
    strategy: 'snapshot',
    scope: 'all',
    method: 'push',
    upgradeTimeout: 7200,
    maxConcurrency: 300,
    status: 'running',
    createdAt,
    updatedAt: createdAt,
  } as TaskDoc;
}

/** A finished rollout's mix: mostly succeeded, some failed, waiting and in flight. */
const STATUS_MIX: Array<[RecordStatus, number]> = [
  ['success', 0.8],
  ['failure', 0.05],
  ['to_be_pushed', 0.1],
  ['upgrading', 0.03],
  ['skipped', 0.02],
];

function statusOf(i: number, n: number): RecordStatus {
  let edge = 0;
  for (const [status, share] of STATUS_MIX) {
    edge += share * n;
    if (i < edge) return status;
  }
  return 'success';
}

export const deviceKeyOf = (i: number): string => `d${String(i).padStart(7, '0')}`;

/** Writes a task with n records (statuses interleaved over the keys, as a rollout leaves them). */
export async function seedTask(db: Db, taskId: string, n: number): Promise<TaskDoc> {
  const at = new Date();
  const task = seededTask(taskId, at);
  await tasksCollection(db).insertOne(task);
  for (let i = 0; i < n; i += 2000) {
    const batch: RecordDoc[] = [];
    for (let j = i; j < Math.min(n, i + 2000); j += 1) {
      // A stride spreads each status over the whole key range.
      const status = statusOf((j * 7919) % n, n);
      const deviceKey = deviceKeyOf(j);
      batch.push({
        _id: recordId(taskId, deviceKey),
        taskId,
        productKey: task.productKey,
        deviceKey,
        fromVersion: '1.0.0',
        toVersion: '2.0.0',
        status,
        waitReason: null,
        progress: status === 'success' ? 100 : 0,
        failure: status === 'failure' ? { code: 'E_VERIFY', message: 'checksum mismatch' } : null,
        skipReason: null,
        attempts: 1,
        deviceOnline: false,
        inWorkflow: false,
        timeline: [
          { at: at.toISOString(), event: 'joined', detail: 'on version 1.0.0' },
          { at: at.toISOString(), event: 'pushed' },
        ],
        createdAt: at,
        updatedAt: at,
      } as RecordDoc);
    }
    await recordsCollection(db).insertMany(batch, { ordered: false });
  }
  return task;
}

/** Writes n tasks of another product, one a minute apart. */
export async function seedTasks(db: Db, n: number): Promise<void> {
  const base = Date.UTC(2026, 0, 1);
  const docs = Array.from({ length: n }, (_, i) =>
    seededTask(`task-list-${String(i).padStart(6, '0')}`, new Date(base + i * 60_000), 'bench-list'),
  );
  for (let i = 0; i < docs.length; i += 500) await tasksCollection(db).insertMany(docs.slice(i, i + 500));
}

/** The detail-tab pages and the task with counts, over a task of n records. */
export async function recordReadFigures(read: Reader, task: TaskDoc, n: number, runs = 5): Promise<Figure[]> {
  const goalMs = n <= 10_000 ? 50 : 100;
  const deepKey = deviceKeyOf(Math.floor(n * 0.9));
  const deep = encodeListCursor([deepKey]);
  const prefix = deviceKeyOf(Math.floor(n / 2)).slice(0, 6); // ~10 or ~100 devices share it
  const page = (q: Parameters<Reader['page']>[1]) => () => read.page(task, q);
  // A cursor the list does not understand would time some other page: check where it lands.
  const landed = (await read.page(task, { limit: 1, cursor: deep })) as { items: Array<{ deviceKey: string }> };
  if (landed.items[0]?.deviceKey !== deviceKeyOf(Math.floor(n * 0.9) + 1)) {
    throw new Error(`the deep cursor landed on ${landed.items[0]?.deviceKey ?? 'nothing'}, not after ${deepKey}`);
  }
  const figures: Figure[] = [
    { what: `page, all statuses, first (100 of ${n})`, ...(await median(runs, page({ limit: 100 }))), goalMs },
    {
      what: `page, all statuses, deep cursor (100 of ${n})`,
      ...(await median(runs, page({ limit: 100, cursor: deep }))),
      goalMs,
    },
  ];
  for (const status of ['success', 'failure', 'to_be_pushed', 'cancelled'] as const) {
    figures.push({
      what: `page, ${status}, first (${n} records)`,
      ...(await median(runs, page({ status, limit: 100 }))),
      goalMs,
    });
    figures.push({
      what: `page, ${status}, deep cursor (${n} records)`,
      ...(await median(runs, page({ status, limit: 100, cursor: deep }))),
      goalMs,
    });
  }
  // A client's own cursor, with characters the embedded database's index order cannot hold as they are.
  const madeUp = encodeListCursor([`["${deepKey}"]`]);
  figures.push({
    what: `page, success, made-up cursor (${n} records)`,
    ...(await median(runs, page({ status: 'success', limit: 100, cursor: madeUp }))),
    goalMs,
  });
  figures.push({
    what: `page, deviceKey prefix ${prefix} (${n} records)`,
    ...(await median(runs, page({ deviceKey: prefix, limit: 100 }))),
    goalMs,
  });
  figures.push({
    what: `page, success + deviceKey prefix ${prefix} (${n} records)`,
    ...(await median(runs, page({ status: 'success', deviceKey: prefix, limit: 100 }))),
    goalMs,
  });
  figures.push({
    what: `task with exact counts (${n} records)`,
    ...(await median(runs, () => read.task(task))),
    goalMs: 50,
  });
  return figures;
}

/** The task list's first and a deep page with `n` tasks stored. */
export async function taskListFigures(read: Reader, n: number, runs = 5): Promise<Figure[]> {
  const first = await read.list({ limit: 20 });
  let cursor = first.nextCursor ?? undefined;
  // Twenty pages down.
  for (let i = 0; i < 20 && cursor; i += 1) cursor = (await read.list({ limit: 20, cursor })).nextCursor ?? undefined;
  return [
    {
      what: `task list, first page (20 of ${n} tasks)`,
      ...(await median(runs, () => read.list({ limit: 20 }))),
      goalMs: 50,
    },
    {
      what: `task list, page 21 by cursor (${n} tasks)`,
      ...(await median(runs, () => read.list({ limit: 20, cursor }))),
      goalMs: 50,
    },
  ];
}

/**
 * Seeds and measures every read figure: tasks of each size, then the task
 * list with `taskCount` tasks in all; `report` sees each figure as it comes.
 */
export async function readFigures(
  db: Db,
  read: Reader,
  opts: { sizes: number[]; taskCount: number; runs?: number },
  report: (f: Figure) => void = () => undefined,
): Promise<Figure[]> {
  await ensureAllIndexes(db);
  const figures: Figure[] = [];
  const add = (fs: Figure[]) => {
    for (const f of fs) report(f);
    figures.push(...fs);
  };
  for (const n of opts.sizes) {
    const task = await seedTask(db, `task-reads-${n}`, n);
    add(await recordReadFigures(read, task, n, opts.runs));
  }
  const stored = await tasksCollection(db).countDocuments();
  await seedTasks(db, Math.max(0, opts.taskCount - stored));
  add(await taskListFigures(read, Math.max(stored, opts.taskCount), opts.runs));
  return figures;
}

export const formatFigure = (f: Figure): string =>
  `${f.ms.toFixed(1)} ms (goal < ${f.goalMs} ms${f.ms < f.goalMs ? ', met' : ', NOT met'})` +
  (f.dbCpuMs === undefined ? '' : `, database CPU ${f.dbCpuMs.toFixed(1)} ms per call`);
