/**
 * Rollout benchmark on the embedded stack (prints figures; never a timed test).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/rollout.js [--sizes 1000,10000] [--offline 10000] [--requests 200]
 *
 * (a) baseline: one trivial workflow with one no-op activity per device, same server, right
 *     before each push rollout and at its size;
 * (b) snapshot push tasks over simulated devices that succeed at once: devices per
 *     minute, ratio to the baseline, task-workflow history events per device and the
 *     largest run's event count, worker and gateway peak RSS;
 * (c) task creation latency and a detail-tab page over the largest task's records;
 * (d) getversion → offer reply latency, p50 and p99;
 * (e) devices waiting offline in a task: worker RSS;
 * (f) per device of each push rollout: Temporal actions (from the histories) and database commands;
 * (g) the operator's reads over tasks of --reads records written straight into the database
 *     (detail-tab pages of every kind, a task with its counts) and the task list with --tasks tasks.
 * Each figure with a goal prints it alongside.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { PROJECT_ROOT } from '../config/config';
import type { Db } from 'mongodb';
import { connectMongo } from '../db/mongo';
import { Fleet, fleetSpecs, type Behaviour, type DeviceSpec } from '../simulator';
import { dbCommandCounts, formatPerDevice, perDeviceCommands, temporalPerDevice } from './breakdown';
import { apiReader, formatFigure, processCpuMs, readFigures, watchDatabaseCpu } from './read-figures';
import { api, startBenchStack, type BenchStack } from './stack';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000' },
    offline: { type: 'string', default: '2000' },
    requests: { type: 'string', default: '200' },
    reads: { type: 'string', default: '10000,100000' },
    tasks: { type: 'string', default: '1000' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const rows: Array<[string, string]> = [];
const report = (what: string, value: string) => {
  rows.push([what, value]);
  process.stdout.write(`  ${what}: ${value}\n`);
};

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const stack = await startBenchStack();
  // An interrupted benchmark leaves no server behind.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stack.stop().finally(() => process.exit(130)));
  }
  // Nor does a crash (an error thrown from a timer escapes main's finally).
  process.once('uncaughtException', (err) => {
    process.stderr.write(`benchmark failed: ${err.stack ?? String(err)}\n`);
    void stack.stop().finally(() => process.exit(1));
  });
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection });
  const mongo = await connectMongo(stack.mongodbUrl);
  try {
    // A size of 0 skips a phase (e.g. --sizes 0 --requests 0 --offline 100000 for the large-fleet figures only).
    const pushSizes = sizes.filter((n) => n > 0);
    let productN = 0;
    for (const n of pushSizes) {
      // Right before each push, at its size: the server slows as its store fills (the baseline
      // of 10,000 costs it half again as much per workflow as one of 1,000), so the two compared
      // runs meet the same server.
      const baselinePerMin = await baseline(stack, client, n, `b${productN}-`);
      await pushRollout(stack, client, mongo.db, `bench-p${(productN += 1)}`, n, baselinePerMin);
    }
    if (Number(values.requests) > 0) await offerLatency(stack, `bench-req`, Number(values.requests));
    if (Number(values.offline) > 0) await offlineWaiting(stack, 'bench-off', Number(values.offline));
    const readSizes = values.reads
      .split(',')
      .map(Number)
      .filter((n) => n > 0);
    if (readSizes.length > 0) {
      watchDatabaseCpu(stack.databasePid);
      process.stdout.write(`(g) reads over ${values.reads} records and ${values.tasks} tasks, through the API\n`);
      await readFigures(mongo.db, apiReader(stack.apiUrl), { sizes: readSizes, taskCount: Number(values.tasks) }, (f) =>
        report(`(g) ${f.what}`, formatFigure(f)),
      );
    }
  } finally {
    await mongo.close();
    await connection.close();
    await stack.stop();
  }
  process.stdout.write('\n| measurement | value |\n| --- | --- |\n');
  for (const [k, v] of rows) process.stdout.write(`| ${k} | ${v} |\n`);
}

/** (a) The same server doing the least a per-device workflow can do. */
async function baseline(stack: BenchStack, client: Client, n: number, idPrefix: string): Promise<number> {
  process.stdout.write(`(a) baseline: ${n} trivial workflows, one no-op activity each\n`);
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.join(PROJECT_ROOT, 'dist/bench/baseline-workflows.js'),
  });
  const nativeConnection = await NativeConnection.connect({ address: stack.temporalAddress });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: 'bench-baseline',
    workflowBundle: bundle,
    activities: { noop: async (k: string) => k },
  });
  const cpuBefore = cpuByProcess(stack);
  const t0 = performance.now();
  await worker.runUntil(async () => {
    const handles = [];
    for (let i = 0; i < n; i += 100) {
      handles.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(100, n - i) }, (_, j) =>
            client.workflow.start('baselineDeviceWorkflow', {
              taskQueue: 'bench-baseline',
              workflowId: `baseline-${idPrefix}${i + j}`,
              args: [`d${i + j}`],
            }),
          ),
        )),
      );
    }
    // Results a few hundred at a time: 10,000 long polls at once overran the client's channel.
    for (let i = 0; i < handles.length; i += 200) await Promise.all(handles.slice(i, i + 200).map((h) => h.result()));
  });
  const perMin = (n / (performance.now() - t0)) * 60_000;
  const cpuAfter = cpuByProcess(stack);
  await nativeConnection.close();
  report(`(a) baseline, ${n} workflows`, `${Math.round(perMin)} per minute`);
  // Here the benchmark's own process is the worker.
  report(`(a) baseline: CPU ms per workflow, by process`, formatCpu(cpuBefore, cpuAfter, n));
  return perMin;
}

/** Registers devices over the API; with `reported`, as devices that reported their version on an earlier visit. */
async function register(stack: BenchStack, specs: DeviceSpec[], reported = false): Promise<void> {
  for (let i = 0; i < specs.length; i += 10_000) {
    await api(stack.apiUrl, 'POST', '/v1/devices:batch', {
      devices: specs.slice(i, i + 10_000).map((s) => ({
        productKey: s.productKey,
        deviceKey: s.deviceKey,
        deviceSecret: s.deviceSecret,
        ...(reported ? { firmwareVersion: s.version } : {}),
      })),
    });
  }
}

async function verifiedFirmware(stack: BenchStack, productKey: string, verifiers: string[]): Promise<string> {
  const fw = await api<{ firmwareId: string }>(stack.apiUrl, 'POST', '/v1/firmwares', {
    productKey,
    version: '2.0.0',
    fileUrl: `/ota/${productKey}/2.0.0`,
    fileSize: 1024,
    signMethod: 'md5',
    sign: '9e107d9d372bb6826bd81d3542a419d6',
  });
  await api(stack.apiUrl, 'POST', `/v1/firmwares/${fw.body.firmwareId}/verification`, { deviceKeys: verifiers });
  await until(
    async () =>
      (await api<{ verified: boolean }>(stack.apiUrl, 'GET', `/v1/firmwares/${fw.body.firmwareId}`)).body.verified,
    120_000,
  );
  return fw.body.firmwareId;
}

/** Connects the fleet and waits until the registry holds each expected version (the gateway stores them just after replying). */
async function connectAndWaitForVersions(
  stack: BenchStack,
  fleet: Fleet,
  productKey: string,
  expected: Array<[string, number]>,
) {
  await fleet.connect();
  for (const [version, count] of expected) {
    await until(
      async () => {
        const route = `/v1/devices?productKey=${productKey}&version=${version}&limit=500`;
        const page = await api<{ items: unknown[] }>(stack.apiUrl, 'GET', route);
        return page.body.items.length >= Math.min(count, 500);
      },
      600_000,
      2000,
    );
  }
}

/**
 * A product with `n` devices on 1.0.0 behaving as `behaviour`, connected and
 * reporting, and firmware 2.0.0 verified on extra devices: what every phase starts from.
 */
async function preparedProduct(
  stack: BenchStack,
  productKey: string,
  n: number,
  prefix: string,
  behaviour: Behaviour,
  verifierCount: number,
): Promise<{ fleet: Fleet; specs: DeviceSpec[]; firmwareId: string }> {
  const specs = fleetSpecs({ productKey, count: n, prefix, version: '1.0.0', behaviour });
  const verifiers = fleetSpecs({
    productKey,
    count: verifierCount,
    prefix: 'verifier-',
    version: '0.9.0',
    behaviour: { kind: 'succeed', steps: [100], stepDelayMs: 0 },
  });
  await register(stack, [...specs, ...verifiers]);
  const fleet = new Fleet({ url: stack.mqttUrl, maxConcurrentConnects: 200 }, [...specs, ...verifiers]);
  await connectAndWaitForVersions(stack, fleet, productKey, [
    ['1.0.0', n],
    ['0.9.0', verifierCount],
  ]);
  const firmwareId = await verifiedFirmware(
    stack,
    productKey,
    verifiers.map((v) => v.deviceKey),
  );
  return { fleet, specs, firmwareId };
}

/** (b) and (c): a snapshot push task over n devices that succeed at once. */
async function pushRollout(
  stack: BenchStack,
  client: Client,
  db: Db,
  productKey: string,
  n: number,
  baselinePerMin: number,
) {
  process.stdout.write(`(b) snapshot push over ${n} devices\n`);
  const { fleet, firmwareId } = await preparedProduct(
    stack,
    productKey,
    n,
    'd',
    { kind: 'succeed', steps: [100], stepDelayMs: 0 },
    3,
  );
  try {
    const commandsBefore = await dbCommandCounts(db);
    const cpuBefore = cpuByProcess(stack);
    const created = await api<{ taskId: string }>(stack.apiUrl, 'POST', '/v1/upgrade-tasks', {
      firmwareId,
      sourceVersions: ['1.0.0'],
      strategy: 'snapshot',
      scope: 'all',
      method: 'push',
      maxConcurrency: Number(process.env.OTA_BENCH_MAX_CONCURRENCY ?? 300),
    });
    report(`(c) task creation latency, ${n} devices in scope`, `${created.ms.toFixed(0)} ms`);
    const t0 = performance.now();
    const taskId = created.body.taskId;
    // The task workflow ends when every device has; waiting on it puts no load on the database.
    await client.workflow.getHandle(taskId).result();
    const perMin = (n / (performance.now() - t0)) * 60_000;
    const cpuAfter = cpuByProcess(stack);
    const commands = perDeviceCommands(commandsBefore, await dbCommandCounts(db), n);
    const ratio = (perMin / baselinePerMin) * 100;
    report(
      `(b) ${n} devices: devices per minute`,
      `${Math.round(perMin)} (${ratio.toFixed(0)}% of baseline; goal ≥ 60%${ratio >= 60 ? ', met' : ', NOT met'})`,
    );
    const runs = [];
    for await (const run of client.workflow.list({ query: `WorkflowId = "${taskId}"` })) runs.push(run);
    let events = 0;
    let largest = 0;
    for (const run of runs) {
      const history = await client.workflow.getHandle(taskId, run.runId).fetchHistory();
      const count = history.events?.length ?? 0;
      events += count;
      largest = Math.max(largest, count);
    }
    report(
      `(b) ${n} devices: task workflow events per device`,
      `${(events / n).toFixed(2)} (${runs.length} runs, largest ${largest} events; goal ≤ 2${events / n <= 2 ? ', met' : ', NOT met'})`,
    );
    const temporalCost = await temporalPerDevice(client, taskId, n);
    report(
      `(f) ${n} devices: Temporal per device (task + ${temporalCost.sampled} of ${temporalCost.deviceWorkflows} device workflows)`,
      formatPerDevice(temporalCost.perDevice),
    );
    report(`(f) ${n} devices: of which the task workflow's share`, formatPerDevice(temporalCost.taskShare));
    report(`(f) ${n} devices: of which one device workflow (mean)`, formatPerDevice(temporalCost.deviceWorkflow));
    report(
      `(f) ${n} devices: one device workflow's time, ms (mean)`,
      Object.entries(temporalCost.phases)
        .map(([phase, ms]) => `${phase} ${ms.toFixed(0)}`)
        .join(', '),
    );
    report(
      `(f) ${n} devices: database commands per device (all processes)`,
      `${commands.total.toFixed(2)}: ${commands.text}`,
    );
    report(`(f) ${n} devices: CPU ms per device, by process (2 cores)`, formatCpu(cpuBefore, cpuAfter, n));
    report(
      `(b) ${n} devices: peak RSS worker / gateway`,
      `${stack.peakRssMb('worker')} MB / ${stack.peakRssMb('gateway')} MB`,
    );
    const page = await api(stack.apiUrl, 'GET', `/v1/upgrade-tasks/${taskId}/devices?status=success&limit=100`);
    report(`(c) detail-tab page (100 of ${n} records)`, `${page.ms.toFixed(0)} ms`);
    const task = await api(stack.apiUrl, 'GET', `/v1/upgrade-tasks/${taskId}`);
    report(`(c) task with counts (${n} records)`, `${task.ms.toFixed(0)} ms`);
  } finally {
    await fleet.close();
  }
}

/** CPU time so far of every process the rollout loads; `devices` is this benchmark's own (the simulated fleet). */
function cpuByProcess(stack: BenchStack): Record<string, number> {
  const own = process.cpuUsage();
  const out: Record<string, number> = { devices: (own.user + own.system) / 1000 };
  for (const [name, pid] of Object.entries(stack.pids())) if (pid) out[name] = processCpuMs(pid);
  return out;
}

function formatCpu(before: Record<string, number>, after: Record<string, number>, n: number): string {
  const spent = Object.keys(after)
    .map((name) => [name, (after[name] - (before[name] ?? 0)) / n] as const)
    .sort((a, b) => b[1] - a[1]);
  const total = spent.reduce((sum, [, ms]) => sum + ms, 0);
  return `${total.toFixed(1)}: ${spent.map(([name, ms]) => `${name} ${ms.toFixed(1)}`).join(', ')}`;
}

/** (d) getversion → offer latency as a device sees it. */
async function offerLatency(stack: BenchStack, productKey: string, n: number) {
  process.stdout.write(`(d) getversion → offer over ${n} devices\n`);
  const { fleet, specs, firmwareId } = await preparedProduct(stack, productKey, n, 'r', { kind: 'silent' }, 1);
  try {
    const task = await api<{ taskId: string }>(stack.apiUrl, 'POST', '/v1/upgrade-tasks', {
      firmwareId,
      sourceVersions: ['1.0.0'],
      strategy: 'snapshot',
      scope: 'all',
      method: 'request',
    });
    await until(
      async () =>
        (await api<{ status: string; total: number }>(stack.apiUrl, 'GET', `/v1/upgrade-tasks/${task.body.taskId}`))
          .body.total === n,
      600_000,
    );
    const latencies: number[] = [];
    let offered = 0;
    for (const spec of specs) {
      const t0 = performance.now();
      const reply = await fleet.device(spec.deviceKey).getversion();
      latencies.push(performance.now() - t0);
      if (Array.isArray(reply?.data) && reply.data.length > 0) offered += 1;
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(0);
    report(`(d) getversion → offer reply (${offered}/${n} offered)`, `p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
  } finally {
    await fleet.close();
  }
}

/** (e) Devices registered and waiting offline in a push task: what the worker holds for them. */
async function offlineWaiting(stack: BenchStack, productKey: string, n: number) {
  process.stdout.write(`(e) ${n} devices waiting offline\n`);
  const specs = fleetSpecs({ productKey, count: n, prefix: 'o', version: '1.0.0' });
  // Offline devices that reported a version earlier: the registry has the version, the gateway no session.
  // (Registered with it, not set by an updateMany: FerretDB had not finished one over 100,000 devices in 9 minutes.)
  await register(stack, specs, true);
  const db = await import('../db/mongo').then((m) => m.connectMongo(stack.mongodbUrl));
  await db.db.collection('firmwares').insertOne({
    firmwareId: `fw-${productKey}`,
    productKey,
    version: '2.0.0',
    name: '2.0.0',
    description: '',
    fileUrl: '/ota/x',
    fileSize: 1,
    signMethod: 'md5',
    sign: '9e107d9d372bb6826bd81d3542a419d6',
    verified: true,
    createdAt: new Date(),
  });
  await db.close();
  const rssBefore = stack.peakRssMb('worker');
  const task = await api<{ taskId: string }>(stack.apiUrl, 'POST', '/v1/upgrade-tasks', {
    firmwareId: `fw-${productKey}`,
    sourceVersions: ['1.0.0'],
    strategy: 'snapshot',
    scope: 'all',
    method: 'push',
  });
  await until(
    async () =>
      (await api<{ counts: { to_be_pushed: number } }>(stack.apiUrl, 'GET', `/v1/upgrade-tasks/${task.body.taskId}`))
        .body.counts.to_be_pushed === n,
    3600_000,
    // Counts are index counts now, but still seven commands: every few seconds is enough.
    5_000,
  );
  report(
    `(e) ${n} devices waiting offline: worker peak RSS`,
    `${stack.peakRssMb('worker')} MB (before the task: ${rssBefore} MB)`,
  );
  report(
    `(c) task creation latency, ${n} devices in scope`,
    `${task.ms.toFixed(0)} ms${n >= 100_000 ? ` (goal < 2000 ms${task.ms < 2000 ? ', met' : ', NOT met'})` : ''}`,
  );
  const route = `/v1/upgrade-tasks/${task.body.taskId}/devices?status=to_be_pushed&limit=100`;
  report(`(c) detail-tab page (100 of ${n} records)`, `${(await api(stack.apiUrl, 'GET', route)).ms.toFixed(0)} ms`);
}

async function until(check: () => Promise<boolean>, timeoutMs: number, everyMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`benchmark step did not finish within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`benchmark failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
