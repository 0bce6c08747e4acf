/**
 * Where the gateway's device events go, against the real dev server: to the run that sent the
 * device its command when the gateway knows it (the server then need not read which run is
 * current), and to the current run when it does not, or when that run has ended.
 */
import { Client, type WorkflowClientInterceptor } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { deviceWorkflowId } from '../../domain/ids';
import { deviceStartOptions } from '../../orchestration/device-workflows';
import { createTemporalDeviceEvents } from '../../orchestration/temporal-device-events';
import { silentLogger } from '../../runtime/log';
import { deviceProgress, deviceVersion } from '../../workflows/messages';
import { pushSettings } from '../fixtures/device-start-settings';
import { devServerEnv, testDb, unique } from '../helpers/stack';

const PK = unique('pk-signals');
const settings = pushSettings(PK, 'task-signals');
/** No worker polls it: the workflows here only take signals. */
const IDLE_QUEUE = unique('nobody-polls');

let env: TestWorkflowEnvironment;
let mongo: Awaited<ReturnType<typeof testDb>>;
/** The run each device signal was addressed to (undefined: the current one). */
const addressed: Array<string | undefined> = [];
let events: ReturnType<typeof createTemporalDeviceEvents>;

beforeAll(async () => {
  env = await devServerEnv();
  mongo = await testDb('device-signals');
  const seeSignals: WorkflowClientInterceptor = {
    async signal(input, next) {
      addressed.push(input.workflowExecution.runId);
      return next(input);
    },
  };
  const client = new Client({
    connection: env.client.connection,
    namespace: env.client.options.namespace,
    interceptors: { workflow: [seeSignals] },
  });
  events = createTemporalDeviceEvents({ client, db: mongo.db, taskQueue: IDLE_QUEUE, log: silentLogger });
});
afterAll(async () => {
  await mongo?.close();
  await env?.teardown();
});

async function startRun(deviceKey: string): Promise<string> {
  const handle = await env.client.workflow.start(
    'deviceUpgradeWorkflow',
    deviceStartOptions(settings, deviceKey, IDLE_QUEUE),
  );
  return handle.firstExecutionRunId;
}

async function signalsOf(deviceKey: string, runId: string, name: string): Promise<number> {
  const history = await env.client.workflow
    .getHandle(deviceWorkflowId({ productKey: PK, deviceKey }), runId)
    .fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === name).length;
}
const progressSignalsOf = (deviceKey: string, runId: string) => signalsOf(deviceKey, runId, deviceProgress.name);

const terminate = (deviceKey: string) =>
  env.client.workflow.getHandle(deviceWorkflowId({ productKey: PK, deviceKey })).terminate('test over');

beforeEach(() => {
  addressed.length = 0;
});

it('sends a device event to the run whose command the device took', async () => {
  const device = { productKey: PK, deviceKey: 'took-one' };
  const runId = await startRun(device.deviceKey);
  events.commandDelivered(device, runId, settings.firmware.version);
  await events.progressReported(device, 50, 'installing');
  expect(addressed).toEqual([runId]);
  expect(await progressSignalsOf(device.deviceKey, runId)).toBe(1);
  await terminate(device.deviceKey);
});

it('sends it to the current run when no command went out from here', async () => {
  const device = { productKey: PK, deviceKey: 'no-command' };
  const runId = await startRun(device.deviceKey);
  await events.progressReported(device, 50, 'installing');
  expect(addressed).toEqual([undefined]);
  expect(await progressSignalsOf(device.deviceKey, runId)).toBe(1);
  await terminate(device.deviceKey);
});

it('sends it to the current run once the run that sent the command has ended, and forgets that run', async () => {
  const device = { productKey: PK, deviceKey: 'ended' };
  const first = await startRun(device.deviceKey);
  events.commandDelivered(device, first, settings.firmware.version);
  await terminate(device.deviceKey);
  const second = await startRun(device.deviceKey);

  await events.progressReported(device, 20, 'downloading');
  expect(addressed).toEqual([first, undefined]);
  expect(await progressSignalsOf(device.deviceKey, second)).toBe(1);
  // The ended run is not tried again.
  await events.progressReported(device, 40, 'installing');
  expect(addressed).toEqual([first, undefined, undefined]);
  expect(await progressSignalsOf(device.deviceKey, second)).toBe(2);
  await terminate(device.deviceKey);
});

it('tells a run that heard its device succeed no more of the target version, but still of any other', async () => {
  const device = { productKey: PK, deviceKey: 'succeeded' };
  const target = settings.firmware.version;
  const runId = await startRun(device.deviceKey);
  events.commandDelivered(device, runId, target);
  // Before the success, the target version is news (a device may report it without progress 100).
  await events.versionReported(device, target);
  expect(await signalsOf(device.deviceKey, runId, deviceVersion.name)).toBe(1);
  await events.progressReported(device, 100, 'done');
  // After it, that report would only come while the run completes: the server would refuse the end.
  await events.versionReported(device, target);
  expect(await signalsOf(device.deviceKey, runId, deviceVersion.name)).toBe(1);
  // A device back on its old version has rolled back: news to a run that soaks.
  await events.versionReported(device, '1.0.0');
  expect(await signalsOf(device.deviceKey, runId, deviceVersion.name)).toBe(2);
  // A new command (a resend, or the next attempt) starts over.
  events.commandDelivered(device, runId, target);
  await events.versionReported(device, target);
  expect(await signalsOf(device.deviceKey, runId, deviceVersion.name)).toBe(3);
  await terminate(device.deviceKey);
});
