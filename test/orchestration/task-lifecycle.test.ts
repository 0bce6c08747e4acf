/**
 * Strategies and control on the dev server: snapshot versus increment
 * membership, pause/resume/cancel, verification, and continue-as-new with
 * device signals arriving around it.
 */
import { deviceWorkflowId } from '../../domain/ids';
import { firmwares } from '../../db/firmware';
import { devices } from '../../db/devices';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { recordsCollection } from '../../db/records';
import { getRecord } from '../../db/task-reads';
import { findTask } from '../../db/tasks';
import { deviceStartOptions } from '../../orchestration/device-workflows';
import { cancelDeviceUpgrade, devicesReady, requestFirmware, taskProgress } from '../../workflows/messages';
import { devServerEnv } from '../helpers/stack';
import { recordHistory } from '../helpers/histories';
import { isSettled, signalCount, signalHandled } from '../helpers/workflow-settled';
import { eventually, PK, useWorld } from './world';

const t = useWorld('lifecycle', devServerEnv);

/** A verification of the world's firmware on the named devices, as the API starts one. */
async function startVerification(name: string, deviceKeys: string[]) {
  const { task } = await t.world.tasks.create(
    {
      kind: 'verification',
      name,
      firmwareId: t.world.firmware.firmwareId,
      productKey: PK,
      firmware: t.world.firmware,
      sourceVersions: ['1.0.0'],
      strategy: 'snapshot',
      scope: 'target',
      filter: { deviceKeys },
      method: 'push',
      upgradeTimeout: 300,
      maxConcurrency: 2,
    },
    { kind: 'verify' },
  );
  return task;
}

const pushesTo = (deviceKey: string) => t.world.pushes.filter((p) => p.deviceKey === deviceKey).length;
const tagged = (tag: string) => ({ scope: 'target' as const, filter: { tags: [{ key: 'batch', value: tag }] } });

describe('task strategies and control', () => {
  it('snapshot: a device registered after creation never joins', async () => {
    await t.world.addDevice('s1', { tags: { batch: 'snap' } });
    // Silent: s1 holds the snapshot task open while the late device registers.
    t.world.script.set('s1', 'silent');
    const taskId = await t.world.createTask(tagged('snap'));
    await eventually(
      's1 to be pushed',
      () => t.world.record(taskId, 's1'),
      (r) => r?.status === 'pushed',
    );
    // An increment task over the same devices: its picking the late device up shows the registration was handled.
    const witness = await t.world.createTask({ ...tagged('snap'), strategy: 'increment' });
    await t.world.addDevice('s2-late', { tags: { batch: 'snap' } });
    await t.world.events.devicesRegistered(PK);
    await t.world.events.versionReported({ productKey: PK, deviceKey: 's2-late' }, '1.0.0');
    await eventually(
      'the late device to join the increment task',
      () => t.world.record(witness, 's2-late'),
      (r) => r !== null,
    );
    expect(await t.world.taskStatus(taskId)).toBe('running');
    expect(await t.world.record(taskId, 's2-late')).toBeNull();
    expect(await t.world.counts(taskId)).toMatchObject({ pushed: 1 });
    for (const id of [taskId, witness]) await t.world.tasks.cancel(id);
    await eventually(
      'both tasks to be cancelled',
      async () => [await t.world.taskStatus(taskId), await t.world.taskStatus(witness)],
      (s) => s.every((x) => x === 'cancelled'),
    );
    expect(await t.world.record(taskId, 's2-late')).toBeNull();
  });

  it('increment: devices registered later, or reporting a source version later, join the running task', async () => {
    await t.world.addDevice('i1', { tags: { batch: 'inc' } });
    const taskId = await t.world.createTask({ ...tagged('inc'), strategy: 'increment' });
    await eventually(
      'i1 to succeed',
      () => t.world.record(taskId, 'i1'),
      (r) => r?.status === 'success',
    );

    await t.world.addDevice('i2-registered-later', { tags: { batch: 'inc' } });
    await t.world.events.devicesRegistered(PK);
    await eventually(
      'the new device to join and succeed',
      () => t.world.record(taskId, 'i2-registered-later'),
      (r) => r?.status === 'success',
    );

    await t.world.addDevice('i3-old-version', { tags: { batch: 'inc' }, version: '0.5.0' });
    await t.world.events.devicesRegistered(PK);
    const device = { productKey: PK, deviceKey: 'i3-old-version' };
    await devices(t.mongo.db).updateOne(device, { $set: { firmwareVersion: '1.0.0', versionReportedAt: new Date() } });
    await t.world.events.versionReported(device, '1.0.0');
    await eventually(
      'the device reporting a source version to join',
      () => t.world.record(taskId, 'i3-old-version'),
      (r) => r?.status === 'success',
    );
    expect(await t.world.taskStatus(taskId)).toBe('running');
    await t.world.tasks.cancel(taskId);
    await eventually(
      'the increment task to end when cancelled',
      () => t.world.taskStatus(taskId),
      (s) => s === 'cancelled',
    );
    await recordHistory(t.env.client, taskId, 'task-increment');
  });

  it('pause stops new pushes, resume continues, cancel cancels the devices still waiting', async () => {
    for (const k of ['p1', 'p2', 'p3']) await t.world.addDevice(k, { tags: { batch: 'pause' }, online: false });
    const taskId = await t.world.createTask(tagged('pause'));
    await eventually(
      'three waiting records',
      () => t.world.counts(taskId),
      (c) => c.to_be_pushed === 3,
    );
    await t.world.tasks.pause(taskId);
    await eventually(
      'the task to be paused',
      () => t.world.taskStatus(taskId),
      (s) => s === 'paused',
    );
    expect((await findTask(t.mongo.db, taskId))?.pauseReason).toBe('paused by an operator');
    const hints = await signalCount(t.env.client, taskId, devicesReady.name);
    await t.world.setOnline('p1', true);
    await signalHandled(t.env.client, taskId, devicesReady.name, hints);
    expect(pushesTo('p1')).toBe(0);
    await t.world.tasks.resume(taskId);
    await eventually(
      'p1 to succeed after resume',
      () => t.world.record(taskId, 'p1'),
      (r) => r?.status === 'success',
    );
    await t.world.tasks.cancel(taskId);
    await eventually(
      'the task to be cancelled',
      () => t.world.taskStatus(taskId),
      (s) => s === 'cancelled',
    );
    expect(await t.world.counts(taskId)).toMatchObject({ success: 1, cancelled: 2, to_be_pushed: 0 });
    expect(pushesTo('p2') + pushesTo('p3')).toBe(0);
  });

  it('pauses itself when too many devices fail, says why, and judges afresh after a resume', async () => {
    let failing = true;
    for (const k of ['ap1', 'ap2', 'ap3', 'ap4']) {
      await t.world.addDevice(k, { tags: { batch: 'auto-pause' } });
      t.world.script.set(k, () => (failing ? 'fail' : 'succeed'));
    }
    const taskId = await t.world.createTask({
      ...tagged('auto-pause'),
      maxConcurrency: 1,
      autoPause: { failurePercent: 50, afterDevices: 2 },
    });
    const paused = await eventually(
      'the task to pause itself',
      () => findTask(t.mongo.db, taskId),
      (task) => task?.status === 'paused',
    );
    expect(paused?.pauseReason).toBe('auto-paused: 2 of 2 finished devices failed (100%, threshold 50%)');
    expect(await t.world.counts(taskId)).toMatchObject({ failure: 2, to_be_pushed: 2 });
    await eventually('the task workflow to settle', () => isSettled(t.env.client, taskId), Boolean);
    expect(t.world.pushes.filter((p) => p.deviceKey.startsWith('ap'))).toHaveLength(2);

    failing = false;
    await t.world.tasks.resume(taskId);
    await eventually(
      'the other two to be upgraded after the resume',
      () => t.world.counts(taskId),
      (c) => c.success === 2 && c.failure === 2,
    );
    await eventually(
      'the task to complete',
      () => findTask(t.mongo.db, taskId),
      (task) => task?.status === 'completed' && task.pauseReason === null,
    );
    await recordHistory(t.env.client, taskId, 'task-auto-pause');
  });

  it('claims the few slots that free up after a short pause, not only once a quarter of them are free', async () => {
    const keys = Array.from({ length: 9 }, (_, i) => `debounce-${i}`);
    for (const k of keys) {
      await t.world.addDevice(k, { tags: { batch: 'debounce' } });
      t.world.script.set(k, 'silent');
    }
    const taskId = await t.world.createTask({ ...tagged('debounce'), maxConcurrency: 8 });
    await eventually(
      'eight devices pushed, one held by the limit',
      () => t.world.counts(taskId),
      (c) => c.pushed === 8 && c.to_be_pushed === 1,
    );
    const first = (await recordsCollection(t.mongo.db).findOne({ taskId, status: 'pushed' }))!;
    await t.world.events.progressReported({ productKey: PK, deviceKey: first.deviceKey }, 100, 'done');
    // One slot of eight is less than a quarter: it is claimed after the batching pause all the same.
    await eventually(
      'the held device pushed into the freed slot',
      () => t.world.counts(taskId),
      (c) => c.success === 1 && c.pushed === 8 && c.to_be_pushed === 0,
    );
    await t.world.tasks.cancel(taskId);
  });

  describe('staged rollout', () => {
    const view = async (taskId: string, deviceKey: string) =>
      (await getRecord(t.mongo.db, (await findTask(t.mongo.db, taskId))!, deviceKey))!;

    it('upgrades the first stage alone, and pauses with the figures when too few of it succeed', async () => {
      let failing = true;
      const keys = ['stage-1', 'stage-2', 'stage-3', 'stage-4'];
      for (const k of keys) {
        await t.world.addDevice(k, { tags: { batch: 'stage' } });
        t.world.script.set(k, () => (failing ? 'fail' : 'succeed'));
      }
      const taskId = await t.world.createTask({
        ...tagged('stage'),
        firstStage: { devices: 2, successPercent: 100 },
      });
      const paused = await eventually(
        'the task to pause after its first stage',
        () => findTask(t.mongo.db, taskId),
        (task) => task?.status === 'paused',
      );
      expect(paused).toMatchObject({
        stagePhase: 'rest',
        pauseReason:
          'first stage below its success threshold: 0 of 2 first-stage devices succeeded (0%), needed 100%; resume to go on anyway',
      });
      expect(await t.world.counts(taskId)).toMatchObject({ failure: 2, to_be_pushed: 2 });
      expect(keys.map(pushesTo).reduce((a, b) => a + b)).toBe(2);

      failing = false;
      await t.world.tasks.resume(taskId);
      await eventually(
        'the rest upgraded after the resume',
        () => t.world.taskStatus(taskId),
        (s) => s === 'completed',
      );
      expect(await t.world.counts(taskId)).toMatchObject({ failure: 2, success: 2 });
    });

    it('with approval, holds the rest until an operator resumes the task', async () => {
      const keys = ['approve-1', 'approve-2', 'approve-3'];
      for (const k of keys) {
        await t.world.addDevice(k, { tags: { batch: 'approve' } });
        t.world.script.set(k, 'silent');
      }
      const taskId = await t.world.createTask({
        ...tagged('approve'),
        firstStage: { devices: 1, successPercent: 100, approval: { deadlineHours: 24 } },
      });
      await eventually(
        'one device pushed',
        () => t.world.counts(taskId),
        (c) => c.pushed === 1,
      );
      const first = (await recordsCollection(t.mongo.db).findOne({ taskId, status: 'pushed' }))!.deviceKey;
      const held = keys.find((k) => k !== first)!;
      expect(await view(taskId, held)).toMatchObject({ status: 'to_be_pushed', waitReason: 'first_stage' });

      await t.world.events.progressReported({ productKey: PK, deviceKey: first }, 100, 'done');
      const awaiting = await eventually(
        'the task to wait for approval',
        () => findTask(t.mongo.db, taskId),
        (task) => task?.status === 'paused' && task.stagePhase === 'awaiting_approval',
      );
      expect(awaiting?.pauseReason).toMatch(
        /^first stage done: 1 of 1 first-stage devices succeeded \(100%\); resume to approve the rest by .+, or the task is cancelled then$/,
      );
      await eventually('the task workflow to settle', () => isSettled(t.env.client, taskId), Boolean);
      expect(await t.world.counts(taskId)).toMatchObject({ success: 1, pushed: 0, to_be_pushed: 2 });

      for (const k of keys) t.world.script.set(k, 'succeed');
      await t.world.tasks.resume(taskId);
      await eventually(
        'the rest upgraded once approved',
        () => t.world.taskStatus(taskId),
        (s) => s === 'completed',
      );
      expect(await findTask(t.mongo.db, taskId)).toMatchObject({ stagePhase: 'rest', pauseReason: null });
      await recordHistory(t.env.client, taskId, 'task-staged-approval');
    });
  });

  it("a device workflow ignores another task's cancel: the workflow id belongs to the device, not the task", async () => {
    await t.world.addDevice('x1', { tags: { batch: 'cancel-one' } });
    t.world.script.set('x1', 'silent');
    const taskId = await t.world.createTask(tagged('cancel-one'));
    await eventually(
      'x1 pushed',
      () => t.world.record(taskId, 'x1'),
      (r) => r?.status === 'pushed',
    );
    const handle = t.env.client.workflow.getHandle(deviceWorkflowId({ productKey: PK, deviceKey: 'x1' }));
    await handle.signal(cancelDeviceUpgrade, { reason: 'meant for another task', taskId: 'task-another' });
    await t.world.tasks.cancelDevice(taskId, 'x1');
    const rec = await eventually(
      'x1 cancelled by its own task',
      () => t.world.record(taskId, 'x1'),
      (r) => r?.status === 'cancelled',
    );
    const last = (rec?.timeline as Array<{ event: string; detail?: string }>).at(-1);
    expect(last).toMatchObject({ event: 'cancelled', detail: 'cancelled: cancelled by an operator' });
  });

  it('upon request, offers no more devices at once than maxConcurrency, and offers again once one finishes', async () => {
    // Request tasks take scope `all`: a version no other device here runs keeps these two alone in scope.
    for (const k of ['rc1', 'rc2']) await t.world.addDevice(k, { version: '1.6.0' });
    const [rc1, rc2] = ['rc1', 'rc2'].map((deviceKey) => ({ productKey: PK, deviceKey }));
    const taskId = await t.world.createTask({ method: 'request', sourceVersions: ['1.6.0'], maxConcurrency: 1 });
    await eventually(
      'the request task to run',
      () => t.world.taskStatus(taskId),
      (s) => s === 'running',
    );
    expect(await t.world.events.firmwareRequested(rc1)).toHaveLength(1);
    expect(await t.world.events.firmwareRequested(rc2)).toEqual([]);
    // As the API shows it (the waiting reason is derived when read).
    expect(await getRecord(t.mongo.db, (await findTask(t.mongo.db, taskId))!, 'rc2')).toMatchObject({
      status: 'to_be_pushed',
      waitReason: 'concurrency_limit',
    });
    expect(await t.world.events.firmwareRequested(rc1)).toHaveLength(1); // the holder may ask again

    // Past the gateway's look (a race): the claim refuses, and the device workflow ends at once.
    const task = (await findTask(t.mongo.db, taskId))!;
    await expect(
      t.env.client.workflow.executeUpdateWithStart(requestFirmware, {
        args: [{ taskId }],
        startWorkflowOperation: new WithStartWorkflowOperation('deviceUpgradeWorkflow', {
          ...deviceStartOptions(task, 'rc2', t.world.taskQueue),
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      }),
    ).rejects.toThrow(WorkflowUpdateFailedError);
    const refused = await eventually(
      'rc2 to wait for a slot',
      () => t.world.record(taskId, 'rc2'),
      (r) => r?.status === 'to_be_pushed' && r?.inWorkflow === false,
    );
    expect(refused).toMatchObject({ waitReason: 'concurrency_limit' });
    expect((refused?.timeline as Array<{ event: string; detail?: string }>).at(-1)).toEqual(
      expect.objectContaining({ event: 'deferred', detail: 'deferred: the task is at its concurrency limit' }),
    );
    await recordHistory(t.env.client, deviceWorkflowId({ productKey: PK, deviceKey: 'rc2' }), 'device-request-refused');

    await t.world.events.progressReported(rc1, 100, 'done');
    await eventually(
      'rc1 to succeed',
      () => t.world.record(taskId, 'rc1'),
      (r) => r?.status === 'success',
    );
    expect(await t.world.events.firmwareRequested(rc2)).toHaveLength(1);
    await t.world.events.progressReported(rc2, 100, 'done');
    await eventually(
      'the request task to complete',
      () => t.world.taskStatus(taskId),
      (s) => s === 'completed',
    );
  });

  it('verification: the firmware becomes verified only when every named device succeeds', async () => {
    await t.world.addDevice('v1');
    await t.world.addDevice('v2');
    await firmwares(t.mongo.db).updateOne({ firmwareId: t.world.firmware.firmwareId }, { $set: { verified: false } });
    const task = await startVerification('verify', ['v1', 'v2']);
    await eventually(
      'the verification to complete',
      () => t.world.taskStatus(task.taskId),
      (s) => s === 'completed',
    );
    expect((await firmwares(t.mongo.db).findOne({ firmwareId: t.world.firmware.firmwareId }))?.verified).toBe(true);
    await recordHistory(t.env.client, task.taskId, 'task-verification');
    await recordHistory(t.env.client, deviceWorkflowId({ productKey: PK, deviceKey: 'v1' }), 'device-verification');
  });

  it('verification: a device that fails leaves the firmware unverified', async () => {
    await t.world.addDevice('vf-ok');
    await t.world.addDevice('vf-bad');
    t.world.script.set('vf-bad', 'fail');
    const fw = { firmwareId: t.world.firmware.firmwareId };
    await firmwares(t.mongo.db).updateOne(fw, { $set: { verified: false } });
    try {
      const task = await startVerification('verify-fails', ['vf-ok', 'vf-bad']);
      // The task concludes the verification before it records itself completed.
      await eventually(
        'the verification to complete',
        () => t.world.taskStatus(task.taskId),
        (s) => s === 'completed',
      );
      expect(await t.world.counts(task.taskId)).toMatchObject({ success: 1, failure: 1 });
      expect((await firmwares(t.mongo.db).findOne(fw))?.verified).toBe(false);
    } finally {
      await firmwares(t.mongo.db).updateOne(fw, { $set: { verified: true } });
    }
  });

  it('completes when devices finish before the claim that started them returns', async () => {
    const keys = Array.from({ length: 120 }, (_, i) => `fast-${String(i).padStart(3, '0')}`);
    for (const k of keys) {
      await t.world.addDevice(k, { tags: { batch: 'fast' } });
      t.world.script.set(k, 'instant');
    }
    const taskId = await t.world.createTask({ ...tagged('fast'), maxConcurrency: 120 });
    await eventually(
      'all 120 devices to succeed',
      () => t.world.counts(taskId),
      (c) => c.success === 120,
      60_000,
    );
    await eventually(
      'the task to complete (no slot leaked)',
      () => t.world.taskStatus(taskId),
      (s) => s === 'completed',
    );
    expect((await t.env.client.workflow.getHandle(taskId).query(taskProgress)).inFlight).toBe(0);
  });

  it('continues as new long before history limits, without losing a device or a signal', async () => {
    const keys = Array.from({ length: 24 }, (_, i) => `can-${String(i).padStart(2, '0')}`);
    for (const k of keys) await t.world.addDevice(k, { tags: { batch: 'can' } });
    // A small history budget forces several continue-as-new while devices finish and signal.
    const taskId = await t.world.createTask({ ...tagged('can'), maxConcurrency: 4 }, { historyBudget: 40 });
    const counts = await eventually(
      'all 24 devices to succeed',
      () => t.world.counts(taskId),
      (c) => c.success === 24,
      60_000,
    );
    expect(counts.failure).toBe(0);
    await eventually(
      'the task to complete',
      () => t.world.taskStatus(taskId),
      (s) => s === 'completed',
    );
    const progress = await t.env.client.workflow.getHandle(taskId).query(taskProgress);
    expect(progress.runs).toBeGreaterThan(2);
    expect(progress.finished).toBe(24);
  });
});
