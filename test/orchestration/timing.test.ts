/**
 * Time in the orchestration — windows, timeouts, retries, days offline,
 * offers that expire — on the time-skipping server: days pass in seconds.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { deviceWorkflowId } from '../../domain/ids';
import { devices } from '../../db/devices';
import { getRecord, listRecords } from '../../db/task-reads';
import { recordsCollection } from '../../db/records';
import { findTask } from '../../db/tasks';
import { timeSkippingEnv } from '../helpers/stack';
import { isSettled, signalHandled } from '../helpers/workflow-settled';
import { recordHistory } from '../helpers/histories';
import { deviceUpgradeState } from '../../workflows/messages';
import { eventually, PK, useWorld } from './world';

const t = useWorld('timing', timeSkippingEnv);

const only = (...deviceKeys: string[]) => ({ scope: 'target' as const, filter: { deviceKeys } });
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const workflowExists = (workflowId: string) =>
  t.env.client.workflow
    .getHandle(workflowId)
    .describe()
    .then(
      () => true,
      (err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      },
    );
const pushesTo = (deviceKey: string) => t.world.pushes.filter((p) => p.deviceKey === deviceKey).length;

describe('orchestration over time', () => {
  it('does not push outside the schedule window, and pushes once it opens', async () => {
    const now = await t.env.currentTimeMs();
    const opens = now + 2 * 3600_000;
    await t.world.addDevice('w1');
    const taskId = await t.world.createTask({
      ...only('w1'),
      schedule: { timezone: 'UTC', windows: [{ start: hhmm(opens + 60_000), end: hhmm(opens + 3 * 3600_000) }] },
    });
    await eventually(
      'w1 to join the waiting task',
      () => t.world.record(taskId, 'w1'),
      (r) => r !== null,
    );
    await eventually(
      'the task to wait for its window',
      () => t.world.taskStatus(taskId),
      (s) => s === 'waiting',
    );
    const task = await findTask(t.mongo.db, taskId);
    const page = await listRecords(t.mongo.db, task!, { limit: 10 });
    expect(page.items[0]).toMatchObject({ deviceKey: 'w1', status: 'to_be_pushed', waitReason: 'window_closed' });
    expect(pushesTo('w1')).toBe(0);

    await t.env.sleep('125 minutes');
    const done = await eventually(
      'w1 to be upgraded inside the window',
      () => t.world.record(taskId, 'w1'),
      (r) => r?.status === 'success',
    );
    const pushed = (done?.timeline as Array<{ at: string; event: string }>).find((e) => e.event === 'pushed');
    expect(Date.parse(pushed!.at)).toBeGreaterThanOrEqual(opens);
  });

  it('stops new pushes when the window closes, keeps tracking the upgrade under way, and resumes in the next window', async () => {
    const now = await t.env.currentTimeMs();
    await t.world.addDevice('c1');
    await t.world.addDevice('c2');
    t.world.script.set('c1', 'silent');
    const taskId = await t.world.createTask({
      ...only('c1', 'c2'),
      maxConcurrency: 1,
      upgradeTimeout: 7200,
      schedule: { timezone: 'UTC', windows: [{ start: hhmm(now - 60_000), end: hhmm(now + 30 * 60_000) }] },
    });
    await eventually(
      'one device pushed, the other held by the concurrency limit',
      () => t.world.counts(taskId),
      (c) => c.pushed === 1 && c.to_be_pushed === 1,
    );
    const first = (await t.world.record(taskId, 'c1'))?.status === 'pushed' ? 'c1' : 'c2';
    const second = first === 'c1' ? 'c2' : 'c1';
    await t.env.sleep('31 minutes');
    await eventually(
      'the task to wait for the next window',
      () => t.world.taskStatus(taskId),
      (s) => s === 'waiting',
    );
    // The upgrade under way when the window closed is still followed to its end.
    await t.world.events.progressReported({ productKey: PK, deviceKey: first }, 100, 'done');
    await eventually(
      `${first} to succeed after the window closed`,
      () => t.world.record(taskId, first),
      (r) => r?.status === 'success',
    );
    // The task has handled that finish and settled with its window closed: had the freed slot
    // started `second`, its starter activity would have run and its device workflow would exist.
    await signalHandled(t.env.client, taskId, 'devicesFinished', 0);
    expect(await workflowExists(deviceWorkflowId({ productKey: PK, deviceKey: second }))).toBe(false);
    expect(pushesTo(second)).toBe(0);
    const task = await findTask(t.mongo.db, taskId);
    const waiting = (await listRecords(t.mongo.db, task!, { status: 'to_be_pushed', limit: 10 })).items;
    expect(waiting).toEqual([expect.objectContaining({ deviceKey: second, waitReason: 'window_closed' })]);
    t.world.script.set(second, 'succeed');
    await t.env.sleep('24 hours');
    await eventually(
      `${second} to be upgraded in the next day's window`,
      () => t.world.record(taskId, second),
      (r) => r?.status === 'success',
    );
  });

  it('finds a device whose "online" reached the registry after its record was written, without a reconnect', async () => {
    await t.world.addDevice('s1', { online: false });
    const taskId = await t.world.createTask({ ...only('s1') });
    await eventually(
      's1 waiting offline',
      () => t.world.record(taskId, 's1'),
      (r) => r?.status === 'to_be_pushed',
    );
    // The registry learns the device is online, but no presence event reaches the task (it came too early).
    await devices(t.mongo.db).updateOne(
      { productKey: PK, deviceKey: 's1' },
      { $set: { online: true, gatewayId: t.world.gatewayId } },
    );
    await t.env.sleep('6 minutes');
    await eventually(
      's1 to be upgraded after the periodic check',
      () => t.world.record(taskId, 's1'),
      (r) => r?.status === 'success',
    );
  });

  it('fails a device that reports nothing within the upgrade timeout', async () => {
    await t.world.addDevice('t1');
    t.world.script.set('t1', 'silent');
    const taskId = await t.world.createTask({ ...only('t1'), upgradeTimeout: 300 });
    await eventually(
      't1 pushed',
      () => t.world.record(taskId, 't1'),
      (r) => r?.status === 'pushed',
    );
    await t.env.sleep('6 minutes');
    const rec = await eventually(
      't1 to time out',
      () => t.world.record(taskId, 't1'),
      (r) => r?.status === 'failure',
    );
    expect(rec).toMatchObject({ failure: { code: 'timeout' } });
  });

  it('retries a failed device after the interval and records the second attempt', async () => {
    await t.world.addDevice('r1');
    t.world.script.set('r1', (attempt) => (attempt === 1 ? 'fail' : 'succeed'));
    const taskId = await t.world.createTask({ ...only('r1'), retry: { maxAttempts: 2, intervalSeconds: 600 } });
    await eventually(
      'r1 to wait for its retry',
      () => t.world.record(taskId, 'r1'),
      (r) => r?.waitReason === 'retry_scheduled',
    );
    expect(pushesTo('r1')).toBe(1);
    await t.env.sleep('11 minutes');
    const rec = await eventually(
      'r1 to succeed on attempt 2',
      () => t.world.record(taskId, 'r1'),
      (r) => r?.status === 'success',
    );
    expect(rec).toMatchObject({ attempts: 2 });
    await recordHistory(t.env.client, deviceWorkflowId({ productKey: PK, deviceKey: 'r1' }), 'device-retry');
    expect(t.world.pushes.filter((p) => p.deviceKey === 'r1').map((p) => p.commandId)).toEqual([
      `${taskId}.r1.1`,
      `${taskId}.r1.2`,
    ]);
  });

  it('waits for a device offline for days without failing it, then pushes again when it reconnects', async () => {
    await t.world.addDevice('o1');
    let answer = false;
    t.world.script.set('o1', () => (answer ? 'succeed' : 'silent'));
    const taskId = await t.world.createTask({ ...only('o1'), upgradeTimeout: 300 });
    await eventually(
      'o1 pushed',
      () => t.world.record(taskId, 'o1'),
      (r) => r?.status === 'pushed',
    );
    await t.world.setOnline('o1', false);
    await eventually(
      'o1 marked offline',
      () => t.world.record(taskId, 'o1'),
      (r) => (r?.timeline as { event: string }[] | undefined)?.some((e) => e.event === 'offline') === true,
    );
    await t.env.sleep('3 days');
    expect(await t.world.record(taskId, 'o1')).toMatchObject({ status: 'pushed' });
    answer = true;
    await t.world.setOnline('o1', true);
    await eventually(
      'o1 to succeed after the re-push',
      () => t.world.record(taskId, 'o1'),
      (r) => r?.status === 'success',
    );
    const commands = t.world.pushes.filter((p) => p.deviceKey === 'o1').map((p) => p.commandId);
    expect(commands).toEqual([`${taskId}.o1.1`, `${taskId}.o1.1`]);
  });

  it('offers firmware upon device request, lets an untaken offer expire, and tracks a taken one', async () => {
    // Request tasks take scope `all`: a version no other device here runs keeps this one alone in scope.
    await t.world.addDevice('q1', { version: '1.5.0' });
    const device = { productKey: PK, deviceKey: 'q1' };
    const taskId = await t.world.createTask({ method: 'request', sourceVersions: ['1.5.0'] });
    await eventually(
      'the request task to run',
      () => t.world.taskStatus(taskId),
      (s) => s === 'running',
    );
    const offer = await t.world.events.firmwareRequested(device);
    expect(offer).toEqual([expect.objectContaining({ version: t.world.firmware.version, fileSize: 1024 })]);
    expect(await t.world.events.firmwareRequested({ productKey: PK, deviceKey: 'not-in-any-task' })).toEqual([]);

    await t.env.sleep('11 minutes');
    await eventually(
      'the offer to expire',
      () => t.world.record(taskId, 'q1'),
      (r) =>
        (r?.timeline as Array<{ event: string }> | undefined)?.some((e) => e.event === 'expired') === true &&
        r?.status === 'to_be_pushed',
    );
    expect(await t.world.events.firmwareRequested(device)).toHaveLength(1);
    await t.world.events.progressReported(device, 50, 'flashing');
    await eventually(
      'q1 upgrading',
      () => t.world.record(taskId, 'q1'),
      (r) => r?.status === 'upgrading',
    );
    await t.world.events.progressReported(device, 100, 'done');
    await eventually(
      'q1 success',
      () => t.world.record(taskId, 'q1'),
      (r) => r?.status === 'success',
    );
    await eventually(
      'the snapshot request task to complete',
      () => t.world.taskStatus(taskId),
      (s) => s === 'completed',
    );
    await recordHistory(t.env.client, taskId, 'task-request');
    await recordHistory(t.env.client, deviceWorkflowId({ productKey: PK, deviceKey: 'q1' }), 'device-request-offer');
  });

  it('ends an increment task at its end time: devices still waiting are cancelled, later ones do not join', async () => {
    const now = await t.env.currentTimeMs();
    await t.world.addDevice('end1');
    await t.world.addDevice('end2', { online: false });
    const endTime = new Date(now + 2 * 3600_000).toISOString();
    const taskId = await t.world.createTask({ ...only('end1', 'end2', 'end3'), strategy: 'increment', endTime });
    await eventually(
      'end1 to succeed and end2 to wait offline',
      () => t.world.counts(taskId),
      (c) => c.success === 1 && c.to_be_pushed === 1,
    );
    expect(await findTask(t.mongo.db, taskId)).toMatchObject({ endTime, status: 'running' });

    await t.env.sleep('121 minutes');
    await eventually(
      'the task to complete at its end time',
      () => t.world.taskStatus(taskId),
      (s) => s === 'completed',
    );
    const waited = await t.world.record(taskId, 'end2');
    expect(waited).toMatchObject({ status: 'cancelled' });
    expect((waited?.timeline as Array<{ event: string; detail?: string }>).at(-1)).toEqual({
      at: expect.any(String),
      event: 'cancelled',
      detail: `the task reached its end time ${endTime}`,
    });

    await t.world.addDevice('end3');
    await t.world.events.devicesRegistered(PK);
    await t.world.setOnline('end2', true);
    // Both events have been handled (the gateway reads the task as completed and hints no one), and
    // the task's workflow, the only admitter of its devices, has closed: nothing can join any more.
    expect((await t.env.client.workflow.getHandle(taskId).describe()).status.name).toBe('COMPLETED');
    expect(await workflowExists(deviceWorkflowId({ productKey: PK, deviceKey: 'end2' }))).toBe(false);
    expect(await workflowExists(deviceWorkflowId({ productKey: PK, deviceKey: 'end3' }))).toBe(false);
    expect(await t.world.record(taskId, 'end3')).toBeNull();
    expect(pushesTo('end2') + pushesTo('end3')).toBe(0);
    await recordHistory(t.env.client, taskId, 'task-increment-end-time');
  });

  it('cancels a staged task whose first stage is not approved by the deadline', async () => {
    await t.world.addDevice('deadline-1');
    await t.world.addDevice('deadline-2');
    const taskId = await t.world.createTask({
      ...only('deadline-1', 'deadline-2'),
      maxConcurrency: 1,
      firstStage: { devices: 1, successPercent: 100, approval: { deadlineHours: 1 } },
    });
    await eventually(
      'the task to wait for approval',
      () => findTask(t.mongo.db, taskId),
      (task) => task?.stagePhase === 'awaiting_approval' && task.status === 'paused',
    );
    await t.env.sleep('61 minutes');
    await eventually(
      'the task to be cancelled at the deadline',
      () => t.world.taskStatus(taskId),
      (s) => s === 'cancelled',
    );
    expect(await t.world.counts(taskId)).toMatchObject({ success: 1, cancelled: 1 });
    const held = await recordsCollection(t.mongo.db).findOne({ taskId, status: 'cancelled' });
    expect((held?.timeline ?? []).at(-1)?.detail).toMatch(/^the first stage was not approved by /);
  });

  it('counts a success only after the soak period, and fails a device that rolls back during it', async () => {
    await t.world.addDevice('soak-ok');
    await t.world.addDevice('soak-back');
    const taskId = await t.world.createTask({ ...only('soak-ok', 'soak-back'), upgradeTimeout: 7200, soakMinutes: 30 });
    await eventually(
      'both devices soaking',
      () => t.world.counts(taskId),
      (c) => c.upgrading === 2,
    );
    await t.world.events.versionReported({ productKey: PK, deviceKey: 'soak-back' }, '1.0.0');
    const back = await eventually(
      'the device that came back on its old version to fail',
      () => t.world.record(taskId, 'soak-back'),
      (r) => r?.status === 'failure',
    );
    expect(back?.failure).toEqual({
      code: 'rolled_back',
      reason: 'device came back on version 1.0.0 during the soak period',
    });
    await t.env.sleep('10 minutes');
    expect(await t.world.record(taskId, 'soak-ok')).toMatchObject({ status: 'upgrading', progress: 100 });

    await t.env.sleep('21 minutes');
    const ok = await eventually(
      'the other to succeed once soaked',
      () => t.world.record(taskId, 'soak-ok'),
      (r) => r?.status === 'success',
    );
    expect((ok?.timeline as Array<{ event: string; detail?: string }>).at(-1)).toMatchObject({
      event: 'success',
      detail: 'progress 100, then 30 min on 2.0.0',
    });
    await recordHistory(t.env.client, deviceWorkflowId({ productKey: PK, deviceKey: 'soak-ok' }), 'device-soak');
  });

  describe('rate limit', () => {
    /**
     * Steps the clock 5 s at a time until `done`; before each step, every device pushed so far
     * has had its success recorded, so a slow machine never moves the clock past an answer.
     */
    const stepUntil = async (
      what: string,
      taskId: string,
      keys: string[],
      done: () => Promise<boolean>,
      maxSteps = 60,
    ) => {
      for (let i = 0; i < maxSteps; i++) {
        const pushed = new Set(t.world.pushes.filter((p) => keys.includes(p.deviceKey)).map((p) => p.deviceKey));
        await eventually(
          'the pushed devices to have answered',
          () => t.world.counts(taskId),
          (c) => c.success >= pushed.size,
        );
        if (await done()) return;
        await t.env.sleep('5 seconds');
      }
      throw new Error(`${what} did not happen within ${maxSteps * 5} s`);
    };
    /** Seconds between the pushes of the task's devices, in the order they were pushed. */
    const pushGaps = async (taskId: string, deviceKeys: string[]) => {
      const at: number[] = [];
      for (const k of deviceKeys) {
        const timeline = (await t.world.record(taskId, k))?.timeline as Array<{ at: string; event: string }>;
        at.push(Date.parse(timeline.find((e) => e.event === 'pushed')!.at));
      }
      at.sort((a, b) => a - b);
      return at.slice(1).map((ms, i) => (ms - at[i]) / 1000);
    };
    const expectGapsNear = (gaps: number[], expected: number[]) => {
      expect(gaps).toHaveLength(expected.length);
      gaps.forEach((gap, i) => {
        expect(gap).toBeGreaterThanOrEqual(expected[i] - 1);
        expect(gap).toBeLessThanOrEqual(expected[i] + 6);
      });
    };

    it('starts devices no faster than the rate', async () => {
      const keys = ['rl1', 'rl2', 'rl3', 'rl4'];
      for (const k of keys) await t.world.addDevice(k);
      // Two a minute: a burst of one, so one device every 30 s.
      const taskId = await t.world.createTask({ ...only(...keys), upgradeTimeout: 7200, rateLimit: { perMinute: 2 } });
      await eventually(
        'one device started, three held by the rate',
        () => t.world.counts(taskId),
        (c) => c.to_be_pushed === 3,
      );
      const task = (await findTask(t.mongo.db, taskId))!;
      const held = await recordsCollection(t.mongo.db).findOne({ taskId, status: 'to_be_pushed' });
      expect((await getRecord(t.mongo.db, task, held!.deviceKey))?.waitReason).toBe('rate_limit');
      await stepUntil('four successes', taskId, keys, async () => (await t.world.counts(taskId)).success === 4);
      expectGapsNear(await pushGaps(taskId, keys), [30, 30, 30]);
    });

    it('ramps the rate up as devices succeed', async () => {
      const keys = ['rr1', 'rr2', 'rr3', 'rr4'];
      for (const k of keys) await t.world.addDevice(k);
      const taskId = await t.world.createTask({
        ...only(...keys),
        upgradeTimeout: 7200,
        rateLimit: { perMinute: 4, ramp: { startPerMinute: 1, factor: 2, everySucceeded: 1 } },
      });
      await stepUntil('four successes', taskId, keys, async () => (await t.world.counts(taskId)).success === 4);
      // One a minute until the first success (at once), then two a minute, then four from the second.
      expectGapsNear(await pushGaps(taskId, keys), [30, 15, 15]);
      await recordHistory(t.env.client, taskId, 'task-rate-limit-ramp');
    });
  });

  describe('pause reaches the devices already started', () => {
    const timeline = async (taskId: string, deviceKey: string) =>
      ((await t.world.record(taskId, deviceKey))?.timeline ?? []) as Array<{ event: string; detail?: string }>;
    const devicePaused = (deviceKey: string, paused: boolean) =>
      eventually(
        `${deviceKey}'s workflow to hear paused=${paused}`,
        () =>
          t.env.client.workflow.getHandle(deviceWorkflowId({ productKey: PK, deviceKey })).query(deviceUpgradeState),
        (st) => st.taskPaused === paused,
      );

    it('holds the re-push of a device that reconnects while paused, and pushes it on resume', async () => {
      await t.world.addDevice('pr1');
      let answer = false;
      t.world.script.set('pr1', () => (answer ? 'succeed' : 'silent'));
      const taskId = await t.world.createTask({ ...only('pr1'), upgradeTimeout: 300 });
      await eventually(
        'pr1 pushed',
        () => t.world.record(taskId, 'pr1'),
        (r) => r?.status === 'pushed',
      );
      await t.world.setOnline('pr1', false);
      await t.world.tasks.pause(taskId);
      await devicePaused('pr1', true);
      answer = true;
      await t.world.setOnline('pr1', true);
      await eventually(
        'the re-push to be held',
        () => timeline(taskId, 'pr1'),
        (tl) => tl.some((e) => e.event === 'waiting' && e.detail?.includes('task paused') === true),
      );
      // Paused for longer than the upgrade timeout: a held device does not time out.
      await t.env.sleep('1 hour');
      expect(await t.world.record(taskId, 'pr1')).toMatchObject({ status: 'pushed' });
      expect(pushesTo('pr1')).toBe(1);

      await t.world.tasks.resume(taskId);
      await eventually(
        'pr1 to succeed after the resume re-pushed it',
        () => t.world.record(taskId, 'pr1'),
        (r) => r?.status === 'success',
      );
      expect(t.world.pushes.filter((p) => p.deviceKey === 'pr1').map((p) => p.commandId)).toEqual([
        `${taskId}.pr1.1`,
        `${taskId}.pr1.1`,
      ]);
      await eventually(
        'the task to complete',
        () => t.world.taskStatus(taskId),
        (s) => s === 'completed',
      );
      await recordHistory(t.env.client, taskId, 'task-pause');
      await recordHistory(t.env.client, deviceWorkflowId({ productKey: PK, deviceKey: 'pr1' }), 'device-pause-held');
    });

    it('holds a retry while paused, naming the reason, and retries on resume', async () => {
      await t.world.addDevice('pr2');
      t.world.script.set('pr2', (attempt) => (attempt === 1 ? 'fail' : 'succeed'));
      const taskId = await t.world.createTask({ ...only('pr2'), retry: { maxAttempts: 2, intervalSeconds: 600 } });
      await eventually(
        'pr2 to wait for its retry',
        () => t.world.record(taskId, 'pr2'),
        (r) => r?.waitReason === 'retry_scheduled',
      );
      await t.world.tasks.pause(taskId);
      await devicePaused('pr2', true);
      await t.env.sleep('11 minutes');
      await eventually(
        'the retry to wait for the resume',
        () => t.world.record(taskId, 'pr2'),
        (r) => r?.status === 'to_be_pushed' && r?.waitReason === 'paused',
      );
      expect(pushesTo('pr2')).toBe(1);
      await t.world.tasks.resume(taskId);
      await eventually(
        'pr2 to succeed on attempt 2',
        () => t.world.record(taskId, 'pr2'),
        (r) => r?.status === 'success' && r?.attempts === 2,
      );
    });
  });

  it('waits for the next window before a retry without waking again and again while the device is online', async () => {
    const now = await t.env.currentTimeMs();
    await t.world.addDevice('rw1');
    t.world.script.set('rw1', (attempt) => (attempt === 1 ? 'fail' : 'succeed'));
    // The window closes 5 minutes from now; the retry is due in 10.
    const taskId = await t.world.createTask({
      ...only('rw1'),
      upgradeTimeout: 7200,
      retry: { maxAttempts: 2, intervalSeconds: 600 },
      schedule: { timezone: 'UTC', windows: [{ start: hhmm(now - 27 * 60_000), end: hhmm(now + 5 * 60_000) }] },
    });
    await eventually(
      'rw1 to wait for its retry',
      () => t.world.record(taskId, 'rw1'),
      (r) => r?.waitReason === 'retry_scheduled',
    );
    await t.env.sleep('11 minutes');
    await eventually(
      'the retry to wait for the window',
      () => t.world.record(taskId, 'rw1'),
      (r) => r?.waitReason === 'window_closed',
    );
    await eventually(
      'the device workflow to settle',
      () => isSettled(t.env.client, deviceWorkflowId({ productKey: PK, deviceKey: 'rw1' })),
      Boolean,
    );
    const waits = ((await t.world.record(taskId, 'rw1'))?.timeline as Array<{ event: string }>).filter(
      (e) => e.event === 'waiting',
    );
    expect(waits).toHaveLength(1);
    expect(pushesTo('rw1')).toBe(1);
    // To just inside tomorrow's window: skipping further would also skip past the device's answer.
    const opensAt = Math.floor((now - 27 * 60_000) / 60_000) * 60_000 + 24 * 3600_000;
    await t.env.sleep(opensAt + 60_000 - (await t.env.currentTimeMs()));
    await eventually(
      'rw1 to succeed on attempt 2 in the next window',
      () => t.world.record(taskId, 'rw1'),
      (r) => r?.status === 'success' && r?.attempts === 2,
    );
  });
});
