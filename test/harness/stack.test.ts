/**
 * Proves the mechanisms every later test relies on: a real workflow with a
 * real activity on the dev server, time skipping, and replay of a committed
 * history.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { createHarnessActivities } from '../fixtures/harness-activities';
import { sleepADayWorkflow, visitWorkflow } from '../fixtures/harness-workflows';
import { devServerEnv, testDb, timeSkippingEnv, unique, workflowBundle } from '../helpers/stack';

const fixtures = path.resolve(__dirname, '../fixtures/harness-workflows.ts');
const historyFile = path.resolve(__dirname, '../histories/harness-visit.json');

describe('test harness', () => {
  it('runs a real workflow with a real activity on the dev server and the database', async () => {
    const env = await devServerEnv();
    const mongo = await testDb('harness');
    try {
      const taskQueue = unique('harness');
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: await workflowBundle(fixtures),
        activities: createHarnessActivities(mongo.db),
      });
      const workflowId = unique('visit');
      const count = await worker.runUntil(
        env.client.workflow.execute(visitWorkflow, { taskQueue, workflowId, args: ['ada'] }),
      );
      expect(count).toBe(1);
      expect(await mongo.db.collection('visits').countDocuments({ visitor: 'ada' })).toBe(1);
      if (process.env.OTA_RECORD_HISTORIES) {
        const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
        fs.writeFileSync(historyFile, historyToJSON(history));
      }
    } finally {
      await mongo.close();
      await env.teardown();
    }
  });

  it('sleeps a simulated day on the time-skipping server', async () => {
    const env = await timeSkippingEnv();
    try {
      const taskQueue = unique('skip');
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: await workflowBundle(fixtures),
      });
      const slept = await worker.runUntil(
        env.client.workflow.execute(sleepADayWorkflow, { taskQueue, workflowId: unique('day') }),
      );
      expect(slept).toBeGreaterThanOrEqual(24 * 3600 * 1000);
    } finally {
      await env.teardown();
    }
  });

  it('replays a committed history without a determinism error', async () => {
    const history = JSON.parse(fs.readFileSync(historyFile, 'utf8'));
    await expect(
      Worker.runReplayHistory({ workflowBundle: await workflowBundle(fixtures) }, history, 'harness-visit'),
    ).resolves.toBeUndefined();
  });
});
