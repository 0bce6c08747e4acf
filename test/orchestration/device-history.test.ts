/**
 * A chatty, flapping device cannot grow its workflow's history without bound: the device
 * workflow continues as new, carrying its state, and every run stays under the stated bound.
 */
import { deviceWorkflowId } from '../../domain/ids';
import { SIGNAL_TEXT_LIMIT } from '../../domain/signal-text';
import { OtaStatus, OtaTaskId } from '../../workflows/search-attributes';
import { recordHistory } from '../helpers/histories';
import { devServerEnv } from '../helpers/stack';
import { eventually, PK, useWorld } from './world';

const t = useWorld('device-history', devServerEnv);

/** docs/behaviour.md, "Device workflows": no run of a device workflow holds more events than this. */
const RUN_BOUND = 2000;
const PROGRESS_REPORTS = 3000;
const FLAPS = 300;

/**
 * As the gateway sends a device event (gateway/durable-events.ts): one Temporal did not take
 * within its deadline (a loaded machine) is sent again, not lost.
 */
async function send(event: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await event();
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

it('upgrades a device that reports progress thousands of times and flaps hundreds of times, in bounded runs', async () => {
  await t.world.addDevice('chatty');
  t.world.script.set('chatty', 'silent');
  const taskId = await t.world.createTask({
    scope: 'target',
    filter: { deviceKeys: ['chatty'] },
    upgradeTimeout: 3600,
  });
  await eventually(
    'the device pushed',
    () => t.world.record(taskId, 'chatty'),
    (r) => r?.status === 'pushed',
  );
  const device = { productKey: PK, deviceKey: 'chatty' };
  const perFlap = PROGRESS_REPORTS / FLAPS;
  for (let flap = 0; flap < FLAPS; flap++) {
    // One after another, as one device's messages reach the gateway (which also limits their rate).
    for (let i = 0; i < perFlap; i++) {
      await send(() => t.world.events.progressReported(device, 1 + ((flap * perFlap + i) % 99), 'downloading'));
    }
    await send(() => t.world.events.disconnected(device, 'flapping'));
    await send(() => t.world.events.connected(device));
  }
  // A reply as large as MQTT lets the device send: it must not enter the history whole.
  await send(() => t.world.events.upgradeReplied(device, 'c'.repeat(4096), 200, 'm'.repeat(512 * 1024)));
  await send(() => t.world.events.progressReported(device, 100, 'done'));

  const done = await eventually(
    'the device to succeed',
    () => t.world.record(taskId, 'chatty'),
    (r) => r?.status === 'success',
    60_000,
  );
  expect(done).toMatchObject({ attempts: 1, progress: 100, failure: null, inWorkflow: false });
  // Started before its first flap: a reconnect after the device started is no reason to push again.
  expect(t.world.pushes.filter((p) => p.deviceKey === 'chatty')).toHaveLength(1);
  expect(await t.world.counts(taskId)).toMatchObject({ success: 1, failure: 0, pushed: 0, upgrading: 0 });
  await eventually(
    'the task to complete',
    () => t.world.taskStatus(taskId),
    (s) => s === 'completed',
  );

  const workflowId = deviceWorkflowId(device);
  const runIds: string[] = [];
  for await (const run of t.env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runIds.push(run.runId);
  const histories = await Promise.all(
    runIds.map((runId) => t.env.client.workflow.getHandle(workflowId, runId).fetchHistory()),
  );
  const lengths = histories.map((h) => h.events!.length);
  const signalBytes = histories.flatMap((h) =>
    h.events!.flatMap((e) =>
      (e.workflowExecutionSignaledEventAttributes?.input?.payloads ?? []).map((p) => p.data?.length ?? 0),
    ),
  );
  expect(Math.max(...signalBytes)).toBeLessThan(2 * SIGNAL_TEXT_LIMIT);
  const total = lengths.reduce((a, b) => a + b, 0);
  // Every signal is an event of some run: all of them were seen, spread over several runs.
  expect(total).toBeGreaterThan(PROGRESS_REPORTS + 2 * FLAPS);
  expect(Math.max(...lengths)).toBeLessThan(RUN_BOUND);
  // The last run started from the state the one before carried: its replay covers the resumed path.
  await recordHistory(t.env.client, workflowId, 'device-continued-as-new');
  // The last run is still found by its task (the Web UI's and the benchmark's query), with its status.
  const last = await t.env.client.workflow.getHandle(workflowId).describe();
  expect(last.typedSearchAttributes.get(OtaTaskId)).toBe(taskId);
  expect(last.typedSearchAttributes.get(OtaStatus)).toBe('success');
});
