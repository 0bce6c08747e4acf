/**
 * The device workflow's first activity against the real database: it takes a waiting record
 * and answers facts; a run started from an outdated read of a record never takes a decided one.
 */
import { Client } from '@temporalio/client';
import { createDeviceActivities } from '../../activities/device-activities';
import { ensureAllIndexes } from '../../db/all-indexes';
import { devices, newDeviceDoc } from '../../db/devices';
import { insertWaitingRecords, recordId, recordsCollection } from '../../db/records';
import type { CommandHandover, CommandRequest } from '../../activities/gateway-contracts';
import type { RecordUpdate } from '../../domain/rollout';
import { TEST_FIRMWARE } from '../fixtures/device-start-settings';
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
      handOver: async () => {
        throw new Error('a claim without pushWith hands nothing over');
      },
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

describe('a push claim with its first command (domain/first-push.ts)', () => {
  const firmware = TEST_FIRMWARE;
  const base = { taskId: 't2', productKey: 'pk', toVersion: '2.0.0' };

  async function world(answer: () => Promise<CommandHandover>) {
    const mongo = await testDb('claim_push');
    await ensureAllIndexes(mongo.db);
    const handedOver: Array<CommandRequest & { gatewayId: string; recordIfDelivered?: RecordUpdate }> = [];
    const acts = createDeviceActivities({
      db: mongo.db,
      client: new Client(),
      recheckS: 60,
      handOver: async (request) => {
        handedOver.push(request);
        return answer();
      },
    });
    const add = async (deviceKey: string, fromVersion: string, online: boolean) => {
      const doc = newDeviceDoc({ productKey: 'pk', deviceKey, firmwareVersion: fromVersion }, new Date());
      await devices(mongo.db).insertOne({ ...doc, online, gatewayId: online ? 'gw-1' : null });
      await insertWaitingRecords(mongo.db, [{ ...base, deviceKey, fromVersion }], new Date());
    };
    const claim = (deviceKey: string, runId = 'run-1') =>
      acts.claimRecord({
        taskId: 't2',
        productKey: 'pk',
        deviceKey,
        runId,
        pushWith: { firmware, at: '2026-01-02T03:04:05.000Z' },
      });
    return { mongo, acts, handedOver, add, claim };
  }

  it('hands the command to the gateway presence names, with the record write of a pushed first attempt', async () => {
    const w = await world(async () => ({ delivery: 'delivered', sessionSince: 42 }));
    try {
      await w.add('plain', '1.0.0', true);
      await recordsCollection(w.mongo.db).updateOne({ _id: recordId('t2', 'plain') }, { $set: { attempts: 2 } });
      expect(await w.claim('plain')).toMatchObject({
        status: 'to_be_pushed',
        attempts: 2,
        firstPush: { attempt: 3, gatewayId: 'gw-1', delivery: 'delivered', sessionSince: 42 },
      });
      expect(w.handedOver).toHaveLength(1);
      const [request] = w.handedOver;
      expect(request).toMatchObject({
        gatewayId: 'gw-1',
        runId: 'run-1',
        command: { productKey: 'pk', deviceKey: 'plain', commandId: 't2.plain.3', firmware },
        recordIfDelivered: {
          taskId: 't2',
          deviceKey: 'plain',
          status: 'pushed',
          attempts: 3,
          progress: 0,
          failure: null,
          waitReason: null,
          timeline: [{ at: '2026-01-02T03:04:05.000Z', event: 'pushed', detail: 'command t2.plain.3' }],
        },
      });
    } finally {
      await w.mongo.close();
    }
  });

  it('hands nothing over for a device offline, already on the target, or a record taken back', async () => {
    const w = await world(async () => ({ delivery: 'delivered' }));
    try {
      await w.add('offline', '1.0.0', false);
      await w.add('on-target', '2.0.0', true);
      await w.add('resumed', '1.0.0', true);
      expect((await w.claim('offline')).firstPush).toBeUndefined();
      expect((await w.claim('on-target')).firstPush).toBeUndefined();
      // The run's own record, pushed by its lost workflow task: the workflow resumes that attempt itself.
      await w.claim('resumed');
      w.handedOver.length = 0;
      await w.acts.updateRecord({ taskId: 't2', deviceKey: 'resumed', status: 'pushed', attempts: 1, timeline: [] });
      const resumed = await w.claim('resumed');
      expect(resumed).toMatchObject({ retaken: true });
      expect(resumed.firstPush).toBeUndefined();
      expect(w.handedOver).toHaveLength(0);
    } finally {
      await w.mongo.close();
    }
  });

  it('answers a gateway it cannot reach as a failed first push, not as a failed claim', async () => {
    const w = await world(async () => {
      throw new Error('gateway gw-1 at http://127.0.0.1:1/commands: connect ECONNREFUSED');
    });
    try {
      await w.add('unreachable', '1.0.0', true);
      expect(await w.claim('unreachable')).toMatchObject({
        status: 'to_be_pushed',
        firstPush: { attempt: 1, gatewayId: 'gw-1', delivery: 'failed', reason: expect.stringMatching(/ECONNREFUSED/) },
      });
      expect(await recordsCollection(w.mongo.db).findOne({ _id: recordId('t2', 'unreachable') })).toMatchObject({
        status: 'to_be_pushed',
        inWorkflow: true,
      });
    } finally {
      await w.mongo.close();
    }
  });
});
