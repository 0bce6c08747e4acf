/**
 * The task workflow's loop logic alone: its activities are stubbed by a small
 * in-memory task (no database, no device workflows), the workflow runs on the
 * time-skipping test server. What it checks is what the workflow decides:
 * how many devices it starts, when it admits, pauses, completes or cancels.
 */
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { StartResult, TaskActivities } from '../../activities/contracts';
import type { FirmwareOffer, TaskStatus } from '../../domain/types';
import {
  cancelTask,
  deviceFinished,
  devicesReady,
  devicesReported,
  retryDevices,
  taskProgress,
  type DeviceOutcome,
  type TaskProgress,
} from '../../workflows/messages';
import type { CarriedTaskState } from '../../workflows/task-state';
import type { TaskWorkflowInput, upgradeTaskWorkflow } from '../../workflows/upgrade-task';
import { taskFinishes } from '../../orchestration/task-finishes';
import { timeSkippingEnv, unique, workflowBundle } from '../helpers/stack';
import { signalCount } from '../helpers/workflow-settled';
import { eventually } from './world';

/** A task's devices as its activities would find them in the database. */
class StubTask {
  readonly waiting: string[];
  readonly inFlight = new Set<string>();
  readonly failed: string[] = [];
  readonly statuses: { status: TaskStatus; reason?: string }[] = [];
  readonly calls: { name: string; input: unknown }[] = [];
  /** Each start is the device's next attempt, as its workflow numbers them. */
  readonly attempts = new Map<string, number>();
  maxInFlight = 0;
  /** Holds the task's cancelling activity until a test lets it go. */
  cancelGate: Promise<void> = Promise.resolve();

  constructor(deviceKeys: string[]) {
    this.waiting = [...deviceKeys];
  }

  called(name: string): unknown[] {
    return this.calls.filter((c) => c.name === name).map((c) => c.input);
  }

  activities(): TaskActivities {
    const log = (name: string, input: unknown) => void this.calls.push({ name, input });
    return {
      prepareTask: async (input) => (log('prepareTask', input), { admitted: this.waiting.length, cursorMs: 0 }),
      admitNewDevices: async (input) => (log('admitNewDevices', input), { admitted: 0, cursorMs: input.sinceMs }),
      admitReported: async (input) => {
        log('admitReported', input);
        this.waiting.push(...input.devices.map((d) => d.deviceKey));
        return { admitted: input.devices.length };
      },
      startPushableDevices: async (input): Promise<StartResult> => {
        log('startPushableDevices', input);
        const started = this.waiting.splice(0, input.limit);
        for (const k of started) this.inFlight.add(k);
        for (const k of started) this.attempts.set(k, (this.attempts.get(k) ?? 0) + 1);
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight.size);
        return {
          started,
          skipped: 0,
          exhausted: this.waiting.length === 0,
          lastKey: started.at(-1) ?? input.after ?? null,
        };
      },
      countOpenRecords: async () => this.waiting.length + this.inFlight.size,
      setTaskStagePhase: async (input) => log('setTaskStagePhase', input),
      setTaskStatus: async ({ status, reason }) => void this.statuses.push({ status, ...(reason ? { reason } : {}) }),
      requeueFailed: async (input) => {
        log('requeueFailed', input);
        const n = this.failed.length;
        this.waiting.push(...this.failed.splice(0));
        return n;
      },
      cancelOneDevice: async (input) => (log('cancelOneDevice', input), 'none'),
      tellDevicesPaused: async (input) => (log('tellDevicesPaused', input), { signalled: 0 }),
      cancelTaskDevices: async (input) => {
        log('cancelTaskDevices', input);
        await this.cancelGate;
        return { cancelled: 0, signalled: 0 };
      },
      concludeVerification: async (input) => (log('concludeVerification', input), { verified: true }),
    };
  }

  /** A device's workflow ends and tells the task, as finishRecord does. */
  async finish(
    handle: WorkflowHandle,
    deviceKey: string,
    outcome: DeviceOutcome,
    attempt = this.attempts.get(deviceKey) ?? 0,
  ): Promise<void> {
    this.inFlight.delete(deviceKey);
    if (outcome === 'failure') this.failed.push(deviceKey);
    await handle.signal(deviceFinished, { deviceKey, outcome, attempt });
  }

  /** finishRecord retried after it had signalled: the task hears the same finish again. */
  async repeat(
    handle: WorkflowHandle,
    deviceKey: string,
    outcome: DeviceOutcome,
    attempt = this.attempts.get(deviceKey) ?? 0,
  ): Promise<void> {
    await handle.signal(deviceFinished, { deviceKey, outcome, attempt });
  }
}

const FIRMWARE: FirmwareOffer = {
  version: '2.0.0',
  fileUrl: '/files/fw.bin',
  fileSize: 1024,
  signMethod: 'md5',
  sign: '9e107d9d372bb6826bd81d3542a419d6',
};

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnv();
}, 120_000);
afterAll(async () => {
  await env?.teardown();
});

async function run(
  stub: StubTask,
  input: Partial<TaskWorkflowInput>,
  drive: (handle: WorkflowHandle<typeof upgradeTaskWorkflow>) => Promise<void>,
): Promise<string> {
  const taskQueue = unique('task-loop');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: stub.activities(),
  });
  return worker.runUntil(async () => {
    const taskId = unique('task');
    const handle = await env.client.workflow.start<typeof upgradeTaskWorkflow>('upgradeTaskWorkflow', {
      workflowId: taskId,
      taskQueue,
      args: [
        {
          taskId,
          productKey: 'pk',
          firmwareId: 'fw',
          firmware: FIRMWARE,
          kind: 'batch',
          strategy: 'snapshot',
          method: 'push',
          sourceVersions: ['1.0.0'],
          scope: 'all',
          createdAtMs: 0,
          maxConcurrency: 3,
          upgradeTimeoutS: 600,
          ...input,
        },
      ],
    });
    await drive(handle);
    return handle.result();
  });
}

/** Finishes every device in flight with `outcome` until none is left waiting or in flight. */
async function finishAll(stub: StubTask, handle: WorkflowHandle, outcome: DeviceOutcome = 'success'): Promise<void> {
  while (stub.waiting.length + stub.inFlight.size > 0) {
    await eventually(
      'devices in flight',
      async () => stub.inFlight.size,
      (n) => n > 0,
    );
    for (const k of [...stub.inFlight]) await stub.finish(handle, k, outcome);
  }
}

describe('task workflow loop (stubbed activities)', () => {
  it('starts no more devices than maxConcurrency, and completes a snapshot once no record is open', async () => {
    const stub = new StubTask(Array.from({ length: 10 }, (_, i) => `d${i}`));
    const outcome = await run(stub, { maxConcurrency: 3 }, (h) => finishAll(stub, h));
    expect(outcome).toBe('completed');
    expect(stub.maxInFlight).toBeLessThanOrEqual(3);
    expect(stub.maxInFlight).toBe(3);
    for (const { limit } of stub.called('startPushableDevices') as { limit: number }[]) {
      expect(limit).toBeGreaterThan(0);
      expect(limit).toBeLessThanOrEqual(3);
    }
    expect(stub.statuses.at(-1)).toEqual({ status: 'completed' });
  });

  it('reads the waiting records on from where the last claim stopped, and from the first after a reconnect hint', async () => {
    const stub = new StubTask(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
    const claims = () => stub.called('startPushableDevices') as Array<{ after?: string }>;
    const outcome = await run(stub, { maxConcurrency: 2 }, async (h) => {
      await eventually(
        'the first claim',
        async () => stub.inFlight.size,
        (n) => n === 2,
      );
      for (const k of [...stub.inFlight]) await stub.finish(h, k, 'success');
      await eventually(
        'the second claim',
        async () => stub.inFlight.size,
        (n) => n === 2,
      );
      await h.signal(devicesReady);
      await finishAll(stub, h);
    });
    expect(outcome).toBe('completed');
    const afters = claims().map((c) => c.after ?? null);
    expect(afters.slice(0, 2)).toEqual([null, 'r1']);
    expect(afters.slice(2)).toContain(null);
  });

  it('pauses itself on failures, tells the devices in flight, and cancels on request', async () => {
    const stub = new StubTask(['f1', 'f2', 'f3', 'f4', 'f5', 'f6']);
    let inFlightAtPause: string[] = [];
    let waitingAtPause: string[] = [];
    const outcome = await run(
      stub,
      { maxConcurrency: 3, autoPause: { failurePercent: 50, afterDevices: 2 } },
      async (handle) => {
        await eventually(
          'three started',
          async () => stub.inFlight.size,
          (n) => n === 3,
        );
        await stub.finish(handle, 'f1', 'failure');
        await stub.finish(handle, 'f2', 'failure');
        await eventually(
          'the task paused',
          async () => stub.statuses.at(-1)?.status,
          (s) => s === 'paused',
        );
        inFlightAtPause = [...stub.inFlight].sort();
        waitingAtPause = [...stub.waiting];
        await handle.signal(cancelTask, { reason: 'stop' });
      },
    );
    expect(outcome).toBe('cancelled');
    expect(stub.statuses.find((s) => s.status === 'paused')?.reason).toMatch(/2 of 2/);
    const told = stub.called('tellDevicesPaused') as { paused: boolean; deviceKeys: string[] }[];
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ productKey: 'pk', paused: true });
    expect([...told[0].deviceKeys].sort()).toEqual(inFlightAtPause);
    // Paused: nothing more was started after the pause.
    expect(waitingAtPause.length).toBeGreaterThan(0);
    expect(stub.waiting).toEqual(waitingAtPause);
    expect(stub.called('cancelTaskDevices')).toEqual([
      { taskId: expect.any(String), productKey: 'pk', reason: 'stop' },
    ]);
  });

  it('admits the devices the gateway saw report a source version (increment), then starts them', async () => {
    const stub = new StubTask([]);
    const outcome = await run(stub, { strategy: 'increment' }, async (handle) => {
      await handle.signal(devicesReported, { devices: [{ deviceKey: 'late', version: '1.0.0', reportedAtMs: 1 }] });
      await eventually(
        'the reported device started',
        async () => stub.inFlight.has('late'),
        (started) => started,
      );
      await handle.signal(cancelTask, { reason: 'done' });
    });
    expect(outcome).toBe('cancelled');
    expect(stub.called('admitReported')).toEqual([
      {
        task: expect.objectContaining({ strategy: 'increment', toVersion: '2.0.0' }),
        devices: [{ deviceKey: 'late', version: '1.0.0', reportedAtMs: 1 }],
      },
    ]);
  });

  it("runs an operator's retry through its own activity, and pushes the retried devices again", async () => {
    const stub = new StubTask(['r1', 'r2']);
    const outcome = await run(stub, { maxConcurrency: 1 }, async (handle) => {
      await eventually(
        'r1 started',
        async () => stub.inFlight.has('r1'),
        (started) => started,
      );
      await stub.finish(handle, 'r1', 'failure');
      expect(await handle.executeUpdate(retryDevices, { args: [{}] })).toBe(1);
      await finishAll(stub, handle);
    });
    expect(outcome).toBe('completed');
    const started = (stub.called('startPushableDevices') as unknown[]).length;
    expect(started).toBeGreaterThanOrEqual(3);
    expect(stub.called('requeueFailed')).toHaveLength(1);
  });

  it('gives its activities the settings they act on, so none reads the task document', async () => {
    const stub = new StubTask(['s1']);
    const outcome = await run(
      stub,
      { strategy: 'snapshot', createdAtMs: 1234, scope: 'target', filter: { deviceKeys: ['s1'] } },
      (h) => finishAll(stub, h),
    );
    expect(outcome).toBe('completed');
    expect(stub.called('prepareTask')).toEqual([
      {
        task: {
          taskId: expect.any(String),
          productKey: 'pk',
          strategy: 'snapshot',
          toVersion: '2.0.0',
          scope: { productKey: 'pk', sourceVersions: ['1.0.0'], scope: 'target', filter: { deviceKeys: ['s1'] } },
        },
        createdAtMs: 1234,
      },
    ]);
    expect(stub.called('startPushableDevices')[0]).toEqual({
      device: expect.objectContaining({ productKey: 'pk', firmware: FIRMWARE, upgradeTimeout: 600, method: 'push' }),
      limit: 3,
    });
  });

  it('counts a finish heard twice once: finished, successes and auto-pause', async () => {
    const stub = new StubTask(['c1', 'c2', 'c3', 'c4']);
    let progress: TaskProgress | undefined;
    const outcome = await run(
      stub,
      { maxConcurrency: 4, autoPause: { failurePercent: 50, afterDevices: 3 } },
      async (handle) => {
        await eventually(
          'four started',
          async () => stub.inFlight.size,
          (n) => n === 4,
        );
        await stub.finish(handle, 'c1', 'failure');
        await stub.repeat(handle, 'c1', 'failure');
        await stub.finish(handle, 'c2', 'success');
        await stub.finish(handle, 'c3', 'success');
        // Handled in order: once both successes are counted, so is whatever came before them.
        progress = await eventually(
          'the successes counted',
          () => handle.query(taskProgress),
          (p) => p.succeeded === 2,
        );
        await stub.finish(handle, 'c4', 'success');
      },
    );
    expect(outcome).toBe('completed');
    // c1 failed once: 1 failure of 3 finished devices is below 50%, no pause.
    expect(progress).toMatchObject({ finished: 3, succeeded: 2 });
    expect(stub.statuses.map((s) => s.status)).not.toContain('paused');
  });

  it('judges a first stage on each device once, however often its finish is heard', async () => {
    const stub = new StubTask(['s1', 's2', 's3', 's4']);
    const outcome = await run(
      stub,
      { maxConcurrency: 4, firstStage: { devices: 2, successPercent: 50 } },
      async (handle) => {
        await eventually(
          'the first stage started',
          async () => stub.inFlight.size,
          (n) => n === 2,
        );
        const [first, second] = [...stub.inFlight];
        await stub.finish(handle, first, 'failure');
        await stub.repeat(handle, first, 'failure');
        await stub.finish(handle, second, 'success');
        await finishAll(stub, handle);
      },
    );
    expect(outcome).toBe('completed');
    // 1 of 2 succeeded: 50%, enough to go on with the rest without a pause.
    expect(stub.statuses.map((s) => s.status)).not.toContain('paused');
    expect(stub.called('setTaskStagePhase').map((c) => (c as { phase: string }).phase)).toEqual(['first', 'rest']);
  });

  it('counts a later attempt of a retried device, and a repeat of its first one not at all', async () => {
    const stub = new StubTask(['a1']);
    let progress: TaskProgress | undefined;
    const outcome = await run(stub, { maxConcurrency: 1 }, async (handle) => {
      await eventually(
        'a1 started',
        async () => stub.inFlight.has('a1'),
        (started) => started,
      );
      await stub.finish(handle, 'a1', 'failure', 1);
      expect(await handle.executeUpdate(retryDevices, { args: [{}] })).toBe(1);
      await eventually(
        'a1 started again',
        async () => stub.inFlight.has('a1'),
        (started) => started,
      );
      // The first attempt's finish, heard again while the second runs: its slot stays taken.
      await stub.repeat(handle, 'a1', 'failure', 1);
      await stub.finish(handle, 'a1', 'success', 2);
      progress = await eventually(
        'the second attempt counted',
        () => handle.query(taskProgress),
        (p) => p.succeeded === 1,
      );
    });
    expect(outcome).toBe('completed');
    expect(progress).toMatchObject({ finished: 2, succeeded: 1, inFlight: 0 });
  });

  it('hears the finishes the worker sends together, in one signal, each counted once', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `b${i}`);
    const stub = new StubTask(keys);
    let signals = 0;
    let progress: TaskProgress | undefined;
    const outcome = await run(stub, { maxConcurrency: 12 }, async (handle) => {
      await eventually(
        'all started',
        async () => stub.inFlight.size,
        (n) => n === 12,
      );
      stub.inFlight.clear();
      const tell = taskFinishes(env.client);
      // Twelve finishing activities at once, one of them retried after it had told the task.
      await Promise.all([
        ...keys.map((deviceKey) => tell(handle.workflowId, { deviceKey, outcome: 'success', attempt: 1 })),
        tell(handle.workflowId, { deviceKey: 'b0', outcome: 'success', attempt: 1 }),
      ]);
      progress = await eventually(
        'the finishes counted',
        () => handle.query(taskProgress),
        (p) => p.finished >= 12,
      );
      // Read once they are counted: by then every signal that carried them is in the history.
      signals = await signalCount(env.client, handle.workflowId, 'devicesFinished');
    });
    expect(outcome).toBe('completed');
    expect(signals).toBeGreaterThanOrEqual(1);
    expect(signals).toBeLessThan(13);
    expect(progress).toMatchObject({ finished: 12, succeeded: 12 });
  });

  it("turns away an operator's retry once the task is ending, and changes nothing", async () => {
    const stub = new StubTask(['e1']);
    let release = () => undefined as void;
    stub.cancelGate = new Promise<void>((resolve) => (release = resolve));
    let refusal: unknown;
    const outcome = await run(stub, { maxConcurrency: 1 }, async (handle) => {
      await eventually(
        'e1 started',
        async () => stub.inFlight.has('e1'),
        (started) => started,
      );
      await stub.finish(handle, 'e1', 'failure');
      await handle.signal(cancelTask, { reason: 'stop' });
      await eventually(
        'the task cancelling its devices',
        async () => stub.called('cancelTaskDevices').length,
        (n) => n === 1,
      );
      refusal = await handle.executeUpdate(retryDevices, { args: [{}] }).catch((err: unknown) => err);
      release();
    });
    expect(outcome).toBe('cancelled');
    expect(refusal).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(String((refusal as WorkflowUpdateFailedError).cause?.message)).toMatch(/is ending/);
    expect(stub.called('requeueFailed')).toHaveLength(0);
  });

  it('recognises a repeat of a finish the run before it counted (continue-as-new)', async () => {
    const stub = new StubTask(['n2']);
    let progress: TaskProgress | undefined;
    // What the run before carried over: n1 succeeded and was counted there.
    const carried: CarriedTaskState = {
      prepared: true,
      cursorMs: 0,
      inFlight: [],
      finished: 1,
      paused: false,
      devicesPaused: false,
      pauseReason: null,
      tally: { succeeded: 1, failed: 0 },
      succeeded: 1,
      cancelReason: null,
      status: 'running',
      runs: 1,
      reported: [],
      counted: ['n1@1'],
    };
    const outcome = await run(stub, { maxConcurrency: 1, carried }, async (handle) => {
      await eventually(
        'n2 started',
        async () => stub.inFlight.has('n2'),
        (started) => started,
      );
      await stub.repeat(handle, 'n1', 'success', 1);
      await stub.finish(handle, 'n2', 'success');
      progress = await eventually(
        'n2 counted',
        () => handle.query(taskProgress),
        (p) => p.succeeded >= 2,
      );
    });
    expect(outcome).toBe('completed');
    expect(progress).toMatchObject({ finished: 2, succeeded: 2, runs: 2 });
  });
});
