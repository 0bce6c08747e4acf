/**
 * Starting a device's workflow when one already holds the device, against the real dev server
 * and database: only another task's workflow makes the device busy, only a record that still
 * waits is skipped, and a holder that cannot be told is not guessed.
 */
import { Client, type WorkflowClientInterceptor } from '@temporalio/client';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { StartResult } from '../../activities/contracts';
import { startDeviceWorkflow } from '../../activities/device-start';
import { createTaskActivities } from '../../activities/task-activities';
import { ensureAllIndexes } from '../../db/all-indexes';
import { devices, newDeviceDoc } from '../../db/devices';
import { insertWaitingRecords, recordId, recordsCollection } from '../../db/records';
import { deviceWorkflowId } from '../../domain/ids';
import { deviceStartOptions } from '../../orchestration/device-workflows';
import { silentLogger } from '../../runtime/log';
import { pushSettings } from '../fixtures/device-start-settings';
import { devServerEnv, temporalAddress, testDb, unique, workflowBundle } from '../helpers/stack';

const PK = unique('pk-start');
const settings = (taskId: string) => pushSettings(PK, taskId);
/** No worker polls it: a workflow started here holds its device and never moves. */
const IDLE_QUEUE = unique('nobody-polls');

let env: TestWorkflowEnvironment;
/** The worker's activities reach Temporal through the SDK's native connection (worker/activities.ts): so does this client. */
let client: Client;
let mongo: Awaited<ReturnType<typeof testDb>>;
const holders: string[] = [];

beforeAll(async () => {
  env = await devServerEnv();
  client = new Client({ connection: env.nativeConnection, namespace: env.client.options.namespace });
  mongo = await testDb('device-start');
  await ensureAllIndexes(mongo.db);
});
afterAll(async () => {
  for (const id of holders)
    await env.client.workflow
      .getHandle(id)
      .terminate('test over')
      .catch(() => undefined);
  await mongo?.close();
  await env?.teardown();
});

/** The device's workflow, held by `taskId`, and this task's waiting record of it. */
async function heldDevice(deviceKey: string, holderTaskId: string, taskId: string): Promise<void> {
  const { workflowId } = await env.client.workflow.start(
    'deviceUpgradeWorkflow',
    deviceStartOptions(settings(holderTaskId), deviceKey, IDLE_QUEUE),
  );
  holders.push(workflowId);
  await insertWaitingRecords(
    mongo.db,
    [{ taskId, productKey: PK, deviceKey, fromVersion: '1.0.0', toVersion: '2.0.0' }],
    new Date(),
  );
}

const record = (taskId: string, deviceKey: string) =>
  recordsCollection(mongo.db).findOne({ _id: recordId(taskId, deviceKey) });

it('skips a waiting device that another task is upgrading, naming that task', async () => {
  await heldDevice('busy', 'task-a', 'task-b');
  expect(await startDeviceWorkflow(client, mongo.db, settings('task-b'), 'busy', IDLE_QUEUE)).toBe('busy');
  expect(await record('task-b', 'busy')).toMatchObject({
    status: 'skipped',
    skipReason: 'busy: being upgraded by task-a',
  });
});

it("leaves alone a device held by this task's own workflow", async () => {
  await heldDevice('ours', 'task-b', 'task-b');
  expect(await startDeviceWorkflow(client, mongo.db, settings('task-b'), 'ours', IDLE_QUEUE)).toBe('running');
  expect(await record('task-b', 'ours')).toMatchObject({ status: 'to_be_pushed' });
});

it('never overwrites a record that its own workflow decided meanwhile', async () => {
  await heldDevice('decided', 'task-a', 'task-b');
  await recordsCollection(mongo.db).updateOne(
    { _id: recordId('task-b', 'decided') },
    { $set: { status: 'success', progress: 100 } },
  );
  expect(await startDeviceWorkflow(client, mongo.db, settings('task-b'), 'decided', IDLE_QUEUE)).toBe('settled');
  const decided = await record('task-b', 'decided');
  expect(decided).toMatchObject({ status: 'success' });
  expect(decided?.skipReason ?? null).toBeNull();
});

it('fails (and so is retried) when Temporal cannot say who holds the device, writing nothing', async () => {
  await heldDevice('unknown', 'task-b', 'task-b');
  // Temporal unreachable for the describe only: the start answered, the next call did not.
  const unreachable: WorkflowClientInterceptor = {
    describe: async () => {
      throw new Error('14 UNAVAILABLE: connection refused');
    },
  };
  const unreachableClient = new Client({
    connection: env.nativeConnection,
    namespace: env.client.options.namespace,
    interceptors: { workflow: [unreachable] },
  });
  await expect(
    startDeviceWorkflow(unreachableClient, mongo.db, settings('task-b'), 'unknown', IDLE_QUEUE),
  ).rejects.toThrow(/UNAVAILABLE/);
  const unknown = await record('task-b', 'unknown');
  expect(unknown).toMatchObject({ status: 'to_be_pushed' });
  expect(unknown?.skipReason ?? null).toBeNull();
});

describe('a task starting its waiting devices, claim after claim', () => {
  /** Waiting records of `taskId` for devices that are online; their workflows, once started, never claim them. */
  async function onlineWaiting(taskId: string, keys: string[]): Promise<void> {
    const at = new Date();
    await devices(mongo.db).insertMany(
      keys.map((deviceKey) => ({
        ...newDeviceDoc({ productKey: PK, deviceKey, firmwareVersion: '1.0.0' }, at),
        online: true,
      })) as never,
    );
    await insertWaitingRecords(
      mongo.db,
      keys.map((deviceKey) => ({ taskId, productKey: PK, deviceKey, fromVersion: '1.0.0', toVersion: '2.0.0' })),
      at,
    );
  }

  it('reads on after the devices it started, which still look unowned until their claims run', async () => {
    const taskId = unique('task-laps');
    const keys = ['lap-a', 'lap-b', 'lap-c', 'lap-d', 'lap-e'];
    await onlineWaiting(taskId, keys);
    const acts = createTaskActivities({ db: mongo.db, client, taskQueue: IDLE_QUEUE, log: silentLogger });
    const claim = async (after: string | null): Promise<StartResult> => {
      const result: StartResult = await new MockActivityEnvironment().run(acts.startPushableDevices, {
        device: settings(taskId),
        limit: 2,
        ...(after !== null ? { after } : {}),
      });
      holders.push(...result.started.map((deviceKey) => deviceWorkflowId({ productKey: PK, deviceKey })));
      return result;
    };

    const first = await claim(null);
    expect(first).toMatchObject({ started: ['lap-a', 'lap-b'], exhausted: false, lastKey: 'lap-b' });
    // Not the two already running again: the next ones.
    const second = await claim(first.lastKey);
    expect(second).toMatchObject({ started: ['lap-c', 'lap-d'], exhausted: false, lastKey: 'lap-d' });
    const third = await claim(second.lastKey);
    expect(third).toMatchObject({ started: ['lap-e'], exhausted: true, lastKey: 'lap-e' });
    // Past the last key nothing is read again; from the first, the running ones are found and left alone.
    expect(await claim(third.lastKey)).toMatchObject({ started: [], exhausted: true, lastKey: 'lap-e' });
    expect(await claim(null)).toMatchObject({ started: [], exhausted: false, lastKey: 'lap-b' });
  });
});

describe("starting on the worker that shares the client's connection", () => {
  /** Whether the device's first workflow task went to a worker with the start, or waits for a poll. */
  async function firstTaskOf(deviceKey: string): Promise<'started' | 'scheduled'> {
    const { raw } = await env.client.workflow.getHandle(deviceWorkflowId({ productKey: PK, deviceKey })).describe();
    const started = temporal.api.enums.v1.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED;
    return raw.pendingWorkflowTask?.state === started ? 'started' : 'scheduled';
  }

  it("hands each device workflow its first workflow task in the start's answer, with no poll", async () => {
    const taskId = unique('task-eager');
    const queue = unique('eager');
    await insertWaitingRecords(
      mongo.db,
      ['eager-a', 'lazy-a'].map((deviceKey) => ({
        taskId,
        productKey: PK,
        deviceKey,
        fromVersion: '1.0.0',
        toVersion: '2.0.0',
      })),
      new Date(),
    );
    // As in worker/worker.ts: the worker and the activities' client on one native connection. The
    // worker is created but not run, so no poll can take a workflow task: only the start hands it over.
    const connection = await NativeConnection.connect({ address: temporalAddress() });
    const shared = new Client({ connection, namespace: env.client.options.namespace });
    const worker = await Worker.create({ connection, taskQueue: queue, workflowBundle: await workflowBundle() });
    try {
      for (const [deviceKey, eager] of [
        ['eager-a', true],
        ['lazy-a', false],
      ] as const) {
        holders.push(deviceWorkflowId({ productKey: PK, deviceKey }));
        expect(await startDeviceWorkflow(shared, mongo.db, settings(taskId), deviceKey, queue, eager)).toBe('started');
      }
      expect(await firstTaskOf('eager-a')).toBe('started');
      expect(await firstTaskOf('lazy-a')).toBe('scheduled');
    } finally {
      for (const deviceKey of ['eager-a', 'lazy-a'])
        await env.client.workflow.getHandle(deviceWorkflowId({ productKey: PK, deviceKey })).terminate('test over');
      await worker.runUntil(Promise.resolve());
      await connection.close();
    }
  });
});
