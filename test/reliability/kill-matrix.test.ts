/**
 * The kill matrix: one push rollout on the stack the launcher runs, during
 * which the worker, the API, the gateway, the database and Temporal are each
 * killed with SIGKILL in turn; then a second rollout during which Temporal is
 * unreachable for 15 s while the devices reconnect. The devices are simulated
 * EnOS devices that reconnect with backoff like the SDKs. Afterwards every
 * device must be in its true final state, the success and failure sets exact,
 * no device given two different commands for one attempt, no record or
 * workflow left open, and every process healthy.
 *
 * `OTA_KILL_MATRIX=long` (npm run test:kill-matrix:long) runs more devices,
 * kills every process twice and keeps Temporal away for 60 s
 * (`OTA_KILL_MATRIX_OUTAGE_MS` sets the outage). Each run prints its figures
 * as one `[kill-matrix]` line.
 */
import { eventually } from '../helpers/eventually';
import { temporalAddress, testDb, unique } from '../helpers/stack';
import { launchStack, type LaunchedStack } from './kill-matrix/launched-stack';
import { Rollout, type RolloutPlan } from './kill-matrix/rollout';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { judgeRollout } from './kill-matrix/verdict';

const LONG = process.env.OTA_KILL_MATRIX === 'long';
jest.setTimeout(LONG ? 3_600_000 : 900_000);

// Beyond about 15 s the Temporal client's own gRPC retries give up: the long run goes further.
const OUTAGE_MS = Number(process.env.OTA_KILL_MATRIX_OUTAGE_MS ?? (LONG ? 60_000 : 15_000));
const SETTLE_MS = LONG ? 1_200_000 : 360_000;
// Python SDK (paho): 1 s doubling to 60 s; capped lower here so a short test does not idle.
const reconnect = { minDelayMs: 1000, maxDelayMs: LONG ? 60_000 : 10_000 };

interface Kill {
  process: string;
  finishedBefore: number;
  /** From the SIGKILL until a new process runs and /healthz answers 200 (the API's, the gateway's, the worker's). */
  healthyAfterMs: number;
  /** From the SIGKILL until one more device finished (or all had). */
  progressAfterMs: number;
}

const figures = (run: string, data: object) => process.stdout.write(`[kill-matrix] ${run} ${JSON.stringify(data)}\n`);

/** Waits for the task to complete; a task that never does is reported by the verdict, with every open record. */
async function settle(rollout: Rollout): Promise<number> {
  const started = Date.now();
  await eventually(
    'the task to complete',
    () => rollout.counts(),
    (c) => c.status === 'completed',
    SETTLE_MS,
    500,
  )
    // The verdict names what is stuck.
    .catch(() => undefined);
  return Date.now() - started;
}

describe('kill matrix: each process killed during one push rollout', () => {
  let stack: LaunchedStack | undefined;
  let rollout: Rollout | undefined;

  afterAll(async () => {
    await rollout?.fleet.close();
    await stack?.stop();
  });

  it('every device ends in its true state, each given one command, with every process back', async () => {
    stack = await launchStack({ name: 'kill-matrix' });
    const database = stack.running().find((n) => n === 'ferretdb' || n === 'mongod') ?? 'ferretdb';
    const order = ['worker', 'api', 'gateway', database, 'temporal'];
    const kills = LONG ? [...order, ...order] : order;
    const plan: RolloutPlan = {
      productKey: 'km-pk',
      devices: LONG ? 1000 : 150,
      maxConcurrency: LONG ? 50 : 15,
      stepDelayMs: 400,
      reconnect,
    };
    rollout = new Rollout(stack, plan);
    await rollout.prepare();
    const started = Date.now();
    await rollout.startTask();

    const done: Kill[] = [];
    for (const [i, name] of kills.entries()) {
      // Spread over the rollout, so each kill lands while devices are mid-upgrade.
      const threshold = Math.ceil((plan.devices * (i + 1)) / (kills.length + 2));
      await eventually(
        `${threshold} devices finished before killing ${name}`,
        () => rollout!.finished(),
        (n) => n >= threshold,
        SETTLE_MS,
        250,
      );
      const finishedBefore = await rollout.finished();
      const at = Date.now();
      const oldPid = stack.kill(name);
      await eventually(
        `${name} to be restarted and the stack healthy`,
        async () => ({ pid: stack!.pidOf(name), healthy: await stack!.healthy() }),
        (s) => s.pid !== undefined && s.pid !== oldPid && s.healthy,
        180_000,
        200,
      );
      const healthyAfterMs = Date.now() - at;
      await eventually(
        `a device to finish after killing ${name}`,
        () => rollout!.finished(),
        (n) => n > finishedBefore || n === plan.devices,
        SETTLE_MS,
        250,
      );
      done.push({ process: name, finishedBefore, healthyAfterMs, progressAfterMs: Date.now() - at });
      // The away devices come back while the stack is recovering from kills.
      if (i === 1) rollout.bringBackAway();
    }
    const settleMs = await settle(rollout);
    const outcome = await judgeRollout(stack, rollout, ['temporal', database, 'api', 'gateway', 'worker']);
    figures('kills', {
      devices: plan.devices,
      maxConcurrency: plan.maxConcurrency,
      groups: Object.fromEntries(Object.entries(rollout.groups).map(([k, v]) => [k, v.length])),
      kills: done,
      rolloutMs: Date.now() - started,
      settleAfterLastKillMs: settleMs,
      success: outcome.success.length,
      failure: outcome.failure.length,
      nonTerminal: outcome.nonTerminal,
      commands: outcome.commands,
      redeliveries: outcome.redeliveries,
    });
    expect(outcome.problems).toEqual([]);
  });
});

describe(`kill matrix: Temporal unreachable for ${OUTAGE_MS / 1000} s while devices reconnect`, () => {
  let stack: LaunchedStack | undefined;
  let rollout: Rollout | undefined;
  let proxy: TcpProxy | undefined;
  let db: Awaited<ReturnType<typeof testDb>> | undefined;

  afterAll(async () => {
    await rollout?.fleet.close();
    await stack?.stop();
    await proxy?.close();
    await db?.close();
  });

  it('no device event is lost: every device ends in its true state', async () => {
    // The suite's Temporal behind a relay the test cuts: the server lives on, the services lose it.
    proxy = await startTcpProxy(temporalAddress());
    db = await testDb('kill-matrix-outage');
    stack = await launchStack({
      name: 'kill-matrix-outage',
      env: { TEMPORAL_ADDRESS: proxy.address, MONGODB_URL: db.url, OTA_TASK_QUEUE: unique('kill-matrix') },
    });
    const plan: RolloutPlan = {
      productKey: 'km-out-pk',
      devices: LONG ? 500 : 100,
      maxConcurrency: LONG ? 50 : 20,
      stepDelayMs: 400,
      reconnect,
    };
    rollout = new Rollout(stack, plan);
    await rollout.prepare();
    const started = Date.now();
    await rollout.startTask();
    const threshold = Math.ceil(plan.devices / 5);
    await eventually(
      `${threshold} devices finished`,
      () => rollout!.finished(),
      (n) => n >= threshold,
      SETTLE_MS,
      250,
    );
    const finishedBefore = await rollout.finished();

    await proxy.cut();
    const cutAt = Date.now();
    // Every connected device loses its link and reconnects; the away devices power up: all during the outage.
    for (const spec of rollout.all) rollout.fleet.device(spec.deviceKey).loseConnection();
    rollout.bringBackAway();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const reconnectedDuringOutage = rollout.fleet.records.filter((r) =>
      r.connections.some((c) => c.event === 'connected' && c.at > cutAt),
    ).length;
    await proxy.restore();
    const restoredAt = Date.now();
    await eventually(
      'the stack to be healthy again',
      () => stack!.healthy(),
      (ok) => ok,
      120_000,
      200,
    );
    const healthyAfterMs = Date.now() - restoredAt;

    const settleMs = await settle(rollout);
    const outcome = await judgeRollout(stack, rollout, ['api', 'gateway', 'worker']);
    figures('temporal-outage', {
      devices: plan.devices,
      maxConcurrency: plan.maxConcurrency,
      finishedBeforeOutage: finishedBefore,
      outageMs: OUTAGE_MS,
      reconnectedDuringOutage,
      healthyAfterRestoreMs: healthyAfterMs,
      settleAfterRestoreMs: settleMs,
      rolloutMs: Date.now() - started,
      success: outcome.success.length,
      failure: outcome.failure.length,
      nonTerminal: outcome.nonTerminal,
      commands: outcome.commands,
      redeliveries: outcome.redeliveries,
    });
    expect(outcome.problems).toEqual([]);
  });
});
