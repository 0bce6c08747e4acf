/**
 * The device workflow's first activity against the real database: it takes a waiting record
 * and answers facts; a run started from an outdated read of a record never takes a decided one.
 */
import { Client } from '@temporalio/client';
import { createDeviceActivities } from '../../activities/device-activities';
import { ensureAllIndexes } from '../../db/all-indexes';
import { devices, newDeviceDoc } from '../../db/devices';
import { insertWaitingRecords, recordId, recordsCollection } from '../../db/records';
import { testDb } from '../helpers/stack';

it('takes a waiting record and answers its facts, and leaves a finished record alone', async () => {
  const mongo = await testDb('claim');
  try {
    await ensureAllIndexes(mongo.db);
    const acts = createDeviceActivities({
      db: mongo.db,
      // Claims never signal; the client's connection is opened only on first use.
      client: new Client(),
      recheckS: 60,
    });
    const base = { taskId: 't1', productKey: 'pk', toVersion: '2.0.0', fromVersion: '1.0.0' };
    // Presence is the registry's (db/presence.ts).
    const device = newDeviceDoc({ productKey: 'pk', deviceKey: 'waiting', firmwareVersion: '1.0.0' }, new Date());
    await devices(mongo.db).insertOne({ ...device, online: true, gatewayId: 'gw-1' });
    await insertWaitingRecords(
      mongo.db,
      [
        { ...base, deviceKey: 'waiting' },
        { ...base, deviceKey: 'done' },
      ],
      new Date(),
    );
    await recordsCollection(mongo.db).updateOne(
      { _id: recordId('t1', 'done') },
      { $set: { status: 'success', attempts: 1 } },
    );
    const claim = (deviceKey: string, runId = 'run-1') =>
      acts.claimRecord({ taskId: 't1', productKey: 'pk', deviceKey, runId });

    expect(await claim('waiting')).toEqual({
      status: 'to_be_pushed',
      fromVersion: '1.0.0',
      attempts: 0,
      online: true,
      gatewayId: 'gw-1',
      recheckS: 60,
      retaken: false,
    });
    expect(await recordsCollection(mongo.db).findOne({ _id: recordId('t1', 'waiting') })).toMatchObject({
      status: 'to_be_pushed',
      inWorkflow: true,
    });
    // A retried claim answers the same: taking the record twice is taking it once.
    expect(await claim('waiting')).toMatchObject({ status: 'to_be_pushed' });

    expect(await claim('done')).toMatchObject({ status: 'success', attempts: 1 });
    expect(await recordsCollection(mongo.db).findOne({ _id: recordId('t1', 'done') })).toMatchObject({
      status: 'success',
      inWorkflow: false,
    });
    expect(await claim('no-record')).toMatchObject({ status: null, online: false, retaken: false });

    // The run's workflow task went on to push and write `pushed`, then was lost with its worker:
    // run again, the claim takes the record back for that run, and for no other.
    await acts.updateRecord({ taskId: 't1', deviceKey: 'waiting', status: 'pushed', attempts: 1, timeline: [] });
    expect(await claim('waiting', 'another-run')).toMatchObject({ status: 'pushed', retaken: false });
    expect(await claim('waiting')).toMatchObject({ status: 'pushed', attempts: 1, retaken: true });
    expect(await claim('done')).toMatchObject({ status: 'success', retaken: false });
    expect(await acts.lookUpDevice({ productKey: 'pk', deviceKey: 'waiting' })).toEqual({
      online: true,
      version: '1.0.0',
    });
  } finally {
    await mongo.close();
  }
});
