/**
 * The device workflow's first activity against the real database: it takes
 * the record and pushes nothing itself (the workflow sends the command
 * through the gateway holding the device's session), and a run started from
 * an outdated read of a record leaves it alone.
 */
import { Client } from '@temporalio/client';
import { createDeviceActivities } from '../../activities/device-activities';
import { ensureAllIndexes } from '../../db/all-indexes';
import { devices, newDeviceDoc } from '../../db/devices';
import { insertWaitingRecords, recordId, recordsCollection } from '../../db/records';
import { testDb } from '../helpers/stack';

const firmware = { version: '2.0.0', signMethod: 'md5' as const, sign: 'ab'.repeat(16), fileUrl: '/fw', fileSize: 1 };

it('claims a waiting online device without pushing it, and leaves a finished record alone', async () => {
  const mongo = await testDb('claim');
  try {
    await ensureAllIndexes(mongo.db);
    const published: string[] = [];
    const acts = createDeviceActivities({
      db: mongo.db,
      publisher: {
        publishUpgrade: async (_d, commandId) => void published.push(commandId),
        close: async () => undefined,
      },
      // Claims never signal; the client's connection is opened only on first use.
      client: new Client(),
    });
    const base = { taskId: 't1', productKey: 'pk', toVersion: '2.0.0', fromVersion: '1.0.0' };
    // Presence is the registry's (db/presence.ts).
    const device = newDeviceDoc({ productKey: 'pk', deviceKey: 'waiting', firmwareVersion: '1.0.0' }, new Date());
    await devices(mongo.db).insertOne({ ...device, online: true });
    await insertWaitingRecords(
      mongo.db,
      [
        { ...base, deviceKey: 'waiting' },
        { ...base, deviceKey: 'done' },
      ],
      new Date(),
    );
    await recordsCollection(mongo.db).updateOne({ _id: recordId('t1', 'done') }, { $set: { status: 'success' } });
    const push = (commandId: string) => ({ commandId, firmware, at: new Date().toISOString() });

    const first = await acts.claimRecord({
      taskId: 't1',
      productKey: 'pk',
      deviceKey: 'waiting',
      push: push('t1.waiting.1'),
    });
    expect(first).toMatchObject({ online: true, pushed: false, attemptsBefore: 0 });
    expect(await recordsCollection(mongo.db).findOne({ _id: recordId('t1', 'waiting') })).toMatchObject({
      status: 'to_be_pushed',
      inWorkflow: true,
    });

    // A retry of the same activity (worker died before reporting) claims it the same way.
    const retried = await acts.claimRecord({
      taskId: 't1',
      productKey: 'pk',
      deviceKey: 'waiting',
      push: push('t1.waiting.1'),
    });
    expect(retried).toMatchObject({ online: true, pushed: false, attemptsBefore: 0 });

    const stale = await acts.claimRecord({
      taskId: 't1',
      productKey: 'pk',
      deviceKey: 'done',
      push: push('t1.done.1'),
    });
    expect(stale).toMatchObject({ stale: true, pushed: false });
    expect(await recordsCollection(mongo.db).findOne({ _id: recordId('t1', 'done') })).toMatchObject({
      status: 'success',
      inWorkflow: false,
    });
    expect(published).toEqual([]);
  } finally {
    await mongo.close();
  }
});
