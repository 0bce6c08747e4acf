/**
 * The task's first scan against the real database, interrupted after its
 * first page and resumed from its heartbeat, as Temporal retries it: the
 * devices it reports (a first stage's size is a share of them) are all of the
 * task's devices, not only those the resumed attempt scanned.
 */
import { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createTaskActivities } from '../../activities/task-activities';
import { ensureAllIndexes } from '../../db/all-indexes';
import { devices, newDeviceDoc } from '../../db/devices';
import { recordsCollection } from '../../db/records';
import type { AdmissionSettings } from '../../domain/rollout';
import { silentLogger } from '../../runtime/log';
import { testDb } from '../helpers/stack';

/** More than one page of the scan (500 devices). */
const DEVICES = 620;

it('counts every device of the task when its first scan resumes from a heartbeat', async () => {
  const mongo = await testDb('prepare-resume');
  try {
    await ensureAllIndexes(mongo.db);
    const registered = new Date(Date.now() - 60_000);
    await devices(mongo.db).insertMany(
      Array.from({ length: DEVICES }, (_, i) => ({
        ...newDeviceDoc({ productKey: 'pk', deviceKey: `d${String(i).padStart(4, '0')}` }, registered),
        firmwareVersion: '1.0.0',
      })),
    );
    // The scan's activities never talk to Temporal; the client's connection is opened only on first use.
    const acts = createTaskActivities({ db: mongo.db, client: new Client(), taskQueue: 'unused', log: silentLogger });
    const task: AdmissionSettings = {
      taskId: 't-resume',
      productKey: 'pk',
      strategy: 'snapshot',
      toVersion: '2.0.0',
      scope: { productKey: 'pk', sourceVersions: ['1.0.0'], scope: 'all' },
    };
    const input = { task, createdAtMs: Date.now() };

    // The first attempt dies right after its first page's heartbeat (a worker killed then).
    const first = new MockActivityEnvironment();
    let lastHeartbeat: unknown;
    first.on('heartbeat', (details: unknown) => {
      lastHeartbeat = details;
      throw new Error('worker killed');
    });
    await expect(first.run(acts.prepareTask, input)).rejects.toThrow('worker killed');
    expect(await recordsCollection(mongo.db).countDocuments({ taskId: 't-resume' })).toBeLessThan(DEVICES);

    const retried = new MockActivityEnvironment({ heartbeatDetails: lastHeartbeat });
    let admitted = -1;
    await retried.run(async () => void ({ admitted } = await acts.prepareTask(input)));
    expect(await recordsCollection(mongo.db).countDocuments({ taskId: 't-resume' })).toBe(DEVICES);
    expect(admitted).toBe(DEVICES);
  } finally {
    await mongo.close();
  }
}, 120_000);
