/**
 * The device workflow's stage logic alone: its activities are stubbed (a registry of one
 * device and a log of record writes), the workflow runs on the time-skipping test server.
 */
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Claim, DeviceActivities, DeviceNow } from '../../activities/contracts';
import { pushWithClaim } from '../../activities/device-activities';
import type { RouteActivities } from '../../activities/gateway-contracts';
import type { RecordUpdate } from '../../domain/rollout';
import type { DeviceOutcome, DeviceUpgradeInput } from '../../workflows/messages';
import { devicePresence, deviceProgress, taskPauseChanged } from '../../workflows/messages';
import type { deviceUpgradeWorkflow } from '../../workflows/device-upgrade';
import { TEST_FIRMWARE } from '../fixtures/device-start-settings';
import { timeSkippingEnv, unique, workflowBundle } from '../helpers/stack';
import { eventually } from './world';

/** One device as the activities would find it, and what the workflow did to it. */
class StubDevice {
  now: DeviceNow = { online: true, version: '1.0.0' };
  readonly pushes: string[] = [];
  /** Where each command was handed: the gateway, and the run that sent it. */
  readonly handedTo: Array<{ gatewayId: string; runId?: string }> = [];
  readonly writes: RecordUpdate[] = [];
  finished: DeviceOutcome | null = null;
  lookUps = 0;
  locates = 0;
  /** Whether the gateway that presence names still holds the device's session. */
  connected = true;
  /** Hand-overs that fail before one is answered (the gateway does not answer). */
  unreachableFor = 0;
  /** The device's live session, as its gateway names it (when it started). */
  session = 1_700_000_000_000;
  readonly gatewayId = unique('gw');
  /** Claims made so far; each waits for `claimHeld` to settle. */
  claims = 0;
  claimHeld: Promise<void> = Promise.resolve();
  /** What the record says when claimed: waiting, unless a test says otherwise. */
  record: Pick<Claim, 'status' | 'attempts' | 'retaken'> = { status: 'to_be_pushed', attempts: 0, retaken: false };

  activities(recheckS: number): DeviceActivities & RouteActivities {
    return {
      locateDeviceSession: async () => ((this.locates += 1), { gatewayId: this.now.online ? this.gatewayId : null }),
      deliverUpgradeCommand: this.deliver,
      claimRecord: async ({ taskId, productKey, deviceKey, runId, pushWith }) => {
        this.claims += 1;
        await this.claimHeld;
        const claim: Claim = {
          ...this.record,
          fromVersion: '1.0.0',
          online: this.now.online,
          gatewayId: this.now.online ? this.gatewayId : null,
          recheckS,
        };
        // As the worker's claim does: the plain first push goes out with it (domain/first-push.ts).
        const firstPush =
          pushWith && (await pushWithClaim(claim, { taskId, productKey, deviceKey, runId }, pushWith, this.deliver));
        return firstPush ? { ...claim, firstPush } : claim;
      },
      takeOfferSlot: async () => true,
      lookUpDevice: async () => ((this.lookUps += 1), this.now),
      updateRecord: async (update) => void this.writes.push(update),
      finishRecord: async (update, outcome) => {
        this.writes.push(update);
        this.finished = outcome;
      },
    };
  }

  /** The gateway's side: its answer to the command handed to it. */
  private deliver: RouteActivities['deliverUpgradeCommand'] = async ({
    command,
    gatewayId,
    runId,
    recordIfDelivered,
  }) => {
    this.handedTo.push({ gatewayId, runId });
    if (this.unreachableFor > 0) {
      this.unreachableFor -= 1;
      throw new Error(`gateway ${gatewayId}: fetch failed`);
    }
    if (!this.connected) return { delivery: 'not-connected' };
    this.pushes.push(command.commandId);
    if (recordIfDelivered) this.writes.push(recordIfDelivered);
    return { delivery: 'delivered', sessionSince: this.session };
  };

  events(): string[] {
    return this.writes.flatMap((w) => w.timeline.map((e) => e.event));
  }

  details(): string[] {
    return this.writes.flatMap((w) => w.timeline.map((e) => e.detail ?? ''));
  }
}

/** Runs `fn` while the workflow worker polls. */
async function withWorkers(device: StubDevice, recheckS: number, taskQueue: string, fn: () => Promise<void>) {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: device.activities(recheckS),
  });
  await worker.runUntil(fn);
}

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

const input = (deviceKey: string): DeviceUpgradeInput => ({
  taskId: 'task-1',
  kind: 'batch',
  strategy: 'snapshot',
  productKey: 'pk',
  deviceKey,
  firmwareId: 'fw-1',
  firmware: TEST_FIRMWARE,
  method: 'push',
  upgradeTimeoutS: 3600,
  retry: { maxAttempts: 2, intervalSeconds: 60 },
  offerTtlS: 600,
  maxConcurrency: 10,
});

/** Starts one device's upgrade workflow on the test's task queue. */
const startUpgrade = (taskQueue: string, deviceKey: string, workflowId = unique('dev')) =>
  env.client.workflow.start<typeof deviceUpgradeWorkflow>('deviceUpgradeWorkflow', {
    workflowId,
    taskQueue,
    args: [input(deviceKey)],
  });

it('waits out a two-day pause between attempts in bounded runs, carrying its attempt across them', async () => {
  const device = new StubDevice();
  const taskQueue = unique('device-wf');
  await withWorkers(device, 600, taskQueue, async () => {
    const workflowId = unique('dev');
    const handle = await startUpgrade(taskQueue, 'd1', workflowId);
    await eventually(
      'the first push',
      () => device.pushes.length,
      (n) => n === 1,
    );
    await handle.signal(taskPauseChanged, { taskId: 'task-1', paused: true });
    await handle.signal(deviceProgress, { step: -2, desc: 'download failed' });
    await eventually(
      'the retry scheduled',
      () => device.events(),
      (e) => e.includes('retry scheduled'),
    );
    await env.sleep('2 minutes'); // the retry interval
    await eventually(
      'the retry held by the pause',
      () => device.events(),
      (e) => e.includes('waiting'),
    );

    // Two days paused: a re-check every ten minutes, hundreds of wake-ups.
    await env.sleep('2 days');
    expect(device.lookUps).toBeGreaterThan(200);
    await env.client.workflow.getHandle(workflowId).signal(taskPauseChanged, { taskId: 'task-1', paused: false });
    await eventually(
      'the second push',
      () => device.pushes.length,
      (n) => n === 2,
    );
    await env.client.workflow.getHandle(workflowId).signal(deviceProgress, { step: 100, desc: 'done' });
    expect(await env.client.workflow.getHandle(workflowId).result()).toBe('success');

    expect(device.pushes).toEqual(['task-1.d1.1', 'task-1.d1.2']);
    expect(device.finished).toBe('success');
    // One 'waiting' entry for the whole pause: a re-check that changes nothing writes nothing.
    expect(device.events().filter((e) => e === 'waiting')).toHaveLength(1);
    // The runs, followed from the first (the test server lists no workflows).
    const lengths: number[] = [];
    let runId: string | null | undefined = handle.firstExecutionRunId;
    while (runId) {
      const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
      lengths.push(history.events!.length);
      runId = history.events!.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    }
    expect(lengths.length).toBeGreaterThan(1);
    expect(Math.max(...lengths)).toBeLessThan(2000);
  });
});

it('sends the first command to the gateway the claim saw, without reading presence again', async () => {
  const device = new StubDevice();
  const taskQueue = unique('device-wf');
  await withWorkers(device, 600, taskQueue, async () => {
    const handle = await startUpgrade(taskQueue, 'd3');
    await eventually(
      'the command delivered',
      () => device.pushes,
      (p) => p.length === 1,
    );
    expect(device.locates).toBe(0);
    // Named with its run, so the gateway can address the device's reports to it.
    expect(device.handedTo).toEqual([{ gatewayId: device.gatewayId, runId: handle.firstExecutionRunId }]);
    await handle.signal(deviceProgress, { step: 100, desc: 'done' });
    expect(await handle.result()).toBe('success');
    // The command went out with the claim: two local activities in all (the claim, the last write).
    const { events } = await handle.fetchHistory();
    const markers = events!.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    expect(markers).toHaveLength(2);
    expect(device.writes.map((w) => w.timeline.map((e) => e.event))).toEqual([['pushed'], ['success']]);
  });
});

it('goes on with a record its own lost workflow task had already pushed', async () => {
  const device = new StubDevice();
  device.record = { status: 'pushed', attempts: 1, retaken: true };
  const taskQueue = unique('device-wf');
  await withWorkers(device, 600, taskQueue, async () => {
    const handle = await startUpgrade(taskQueue, 'd-retaken');
    await eventually(
      'the command delivered',
      () => device.pushes,
      (p) => p.length === 1,
    );
    await handle.signal(deviceProgress, { step: 100, desc: 'done' });
    expect(await handle.result()).toBe('success');
    // The attempt the lost task made, sent again under its id: a device that got both can tell.
    expect(device.pushes).toEqual(['task-1.d-retaken.1']);
  });
  // Its end refused for a report that came meanwhile: run again, the record says it succeeded and
  // the device's reports are in hand. Followed to the same end, with no command sent again.
  const ended = new StubDevice();
  ended.record = { status: 'success', attempts: 1, retaken: true };
  await withWorkers(ended, 600, taskQueue, async () => {
    // The report is in the history before the task that runs again, as it was in the lost one's.
    const handle = await env.client.workflow.signalWithStart<
      typeof deviceUpgradeWorkflow,
      [{ step: number; desc: string }]
    >('deviceUpgradeWorkflow', {
      workflowId: unique('dev'),
      taskQueue,
      args: [input('d-ended')],
      signal: deviceProgress,
      signalArgs: [{ step: 100, desc: 'done' }],
    });
    expect(await handle.result()).toBe('success');
    expect(ended.pushes).toEqual([]);
    expect(ended.finished).toBe('success');
  });
  // Another run's record in that state is not ours: nothing is pushed.
  const other = new StubDevice();
  other.record = { status: 'pushed', attempts: 1, retaken: false };
  await withWorkers(other, 600, taskQueue, async () => {
    expect(await (await startUpgrade(taskQueue, 'd-not-ours')).result()).toBe('deferred');
    expect(other.pushes).toEqual([]);
  });
});

it('asks presence again when the gateway does not answer the hand-over, and delivers through it then', async () => {
  const device = new StubDevice();
  device.unreachableFor = 1;
  const taskQueue = unique('device-wf');
  await withWorkers(device, 600, taskQueue, async () => {
    const handle = await startUpgrade(taskQueue, 'd-unreachable');
    await eventually(
      'the command delivered at the second look',
      () => device.pushes,
      (p) => p.length === 1,
    );
    expect(device.handedTo).toHaveLength(2);
    expect(device.locates).toBe(1);
    await handle.signal(deviceProgress, { step: 100, desc: 'done' });
    expect(await handle.result()).toBe('success');
  });
});

it('sends one command when the reconnect that got the device started is heard during its claim', async () => {
  const device = new StubDevice();
  let release = () => {};
  device.claimHeld = new Promise((resolve) => (release = resolve));
  const taskQueue = unique('device-wf');
  await withWorkers(device, 600, taskQueue, async () => {
    const handle = await startUpgrade(taskQueue, 'd4');
    await eventually(
      'the claim under way',
      async () => device.claims,
      (n) => n === 1,
    );
    // The gateway hinted the task, which started this workflow; now its "online" arrives, and the
    // workflow hears it only after the command went to that very session.
    await handle.signal(devicePresence, { online: true, sessionSince: device.session });
    release();
    await eventually(
      'the command delivered',
      () => device.pushes,
      (p) => p.length >= 1,
    );
    await handle.signal(deviceProgress, { step: 100, desc: 'done' });
    expect(await handle.result()).toBe('success');
    expect(device.pushes).toEqual(['task-1.d4.1']);
  });
});

it('pushes again when a newer session connects before the device starts', async () => {
  const device = new StubDevice();
  const taskQueue = unique('device-wf');
  await withWorkers(device, 600, taskQueue, async () => {
    const handle = await startUpgrade(taskQueue, 'd5');
    await eventually(
      'the command delivered',
      () => device.pushes,
      (p) => p.length === 1,
    );
    // The session that took the command is heard of late: still one command.
    await handle.signal(devicePresence, { online: true, sessionSince: device.session });
    // The device reconnects (a session the command never reached) before it starts.
    device.session += 5_000;
    await handle.signal(devicePresence, { online: true, sessionSince: device.session });
    await eventually(
      'the command sent again',
      () => device.pushes,
      (p) => p.length === 2,
    );
    await handle.signal(deviceProgress, { step: 100, desc: 'done' });
    expect(await handle.result()).toBe('success');
    expect(device.pushes).toEqual(['task-1.d5.1', 'task-1.d5.1']);
  });
});

it('pushes again once the device is back when the gateway presence named no longer holds its session', async () => {
  const device = new StubDevice();
  device.connected = false; // presence says online, but the session is gone: its offline event is late
  const taskQueue = unique('device-wf');
  await withWorkers(device, 600, taskQueue, async () => {
    const handle = await startUpgrade(taskQueue, 'd2');
    await eventually(
      'the undelivered push recorded',
      () => device.details(),
      (d) => d.some((x) => x.includes('not delivered')),
    );
    expect(device.pushes).toEqual([]);
    // No upgrade clock runs for a command the device never got: an hour later it has not timed out.
    await env.sleep('2 hours');
    expect(device.finished).toBeNull();
    device.connected = true;
    await handle.signal(devicePresence, { online: true });
    await eventually(
      'the command delivered once the device is back',
      () => device.pushes,
      (p) => p.length === 1,
    );
    expect(device.pushes).toEqual(['task-1.d2.1']);
    await handle.signal(deviceProgress, { step: 100, desc: 'done' });
    expect(await handle.result()).toBe('success');
  });
});
