/** The device workflow's activities: thin adapters to MongoDB and the gateway. */
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { byIdentity, devices } from '../db/devices';
import { releaseOfferSlot, takeOfferSlot } from '../db/offer-slots';
import { applyRecordUpdate, recordId, recordsCollection } from '../db/records';
import { commandId, taskWorkflowId } from '../domain/ids';
import { signalIfRunning } from '../orchestration/signal-if-running';
import { deviceFinished } from '../workflows/messages';
import type { CommandPublisher } from './command-publisher';
import type { DeviceActivities, RecordUpdate } from './contracts';

export function createDeviceActivities(deps: {
  db: Db;
  publisher: CommandPublisher;
  client: Client;
}): DeviceActivities {
  const { db, publisher, client } = deps;

  async function updateRecord(update: RecordUpdate): Promise<void> {
    // A device that went back to waiting takes the registry's presence now, not the workflow's older view.
    if (update.status === 'to_be_pushed' && update.inWorkflow === false) {
      const rec = await recordsCollection(db).findOne({ _id: recordId(update.taskId, update.deviceKey) });
      if (rec) {
        const device = await devices(db).findOne(
          byIdentity({ productKey: rec.productKey, deviceKey: update.deviceKey }),
          {
            projection: { online: 1 },
          },
        );
        update = { ...update, deviceOnline: device?.online === true };
      }
    }
    await applyRecordUpdate(db, update);
  }

  return {
    async claimRecord({ taskId, productKey, deviceKey, push, offerSlot }) {
      // The record carries what the task knew when it claimed the device (presence kept current by the
      // gateway, version at admission): no registry query, which FerretDB answers with a full scan.
      const _id = recordId(taskId, deviceKey);
      const rec = await recordsCollection(db).findOne({ _id });
      // This activity retried after it had pushed (e.g. the worker died before reporting): pushed once is enough.
      if (rec?.status === 'pushed' || rec?.status === 'upgrading') {
        const attemptsBefore = Math.max(0, (rec.attempts ?? 1) - 1);
        return { online: rec.deviceOnline, version: rec.fromVersion, pushed: true, attemptsBefore };
      }
      // A claim can start a second run after the first one finished the record: never push twice.
      if (rec?.status !== 'to_be_pushed') return { online: false, version: null, pushed: false, stale: true };
      const online = rec?.deviceOnline === true;
      const version = rec?.fromVersion ?? null;
      // Pushes in earlier runs (an operator's retry, a re-admission): this run's command ids follow theirs.
      const attemptsBefore = rec?.attempts ?? 0;
      const now = new Date();
      if (!push || !online || version === push.firmware.version) {
        await recordsCollection(db).updateOne({ _id }, { $set: { inWorkflow: true, updatedAt: now } });
        const slot = offerSlot ? { offerSlot: await takeOfferSlot(db, taskId, deviceKey, offerSlot.limit) } : {};
        return { online, version, pushed: false, attemptsBefore, ...slot };
      }
      const command = commandId(taskId, deviceKey, attemptsBefore + 1);
      await publisher.publishUpgrade({ productKey, deviceKey }, command, push.firmware);
      await applyRecordUpdate(
        db,
        {
          taskId,
          deviceKey,
          inWorkflow: true,
          status: 'pushed',
          attempts: attemptsBefore + 1,
          progress: 0,
          failure: null,
          waitReason: null,
          timeline: [{ at: push.at, event: 'pushed', detail: `command ${command}` }],
        },
        now,
      );
      return { online, version, pushed: true, attemptsBefore };
    },

    async pushUpgradeCommand({ productKey, deviceKey, commandId, firmware }) {
      await publisher.publishUpgrade({ productKey, deviceKey }, commandId, firmware);
    },

    updateRecord,

    async finishRecord(update, outcome, opts) {
      await updateRecord(update);
      if (opts?.releaseOfferSlot) await releaseOfferSlot(db, update.taskId, update.deviceKey);
      // A closed task (cancelled or completed) needs no telling: the record says how this device ended.
      await signalIfRunning(client.workflow.getHandle(taskWorkflowId(update.taskId)), deviceFinished, {
        deviceKey: update.deviceKey,
        outcome,
      });
    },
  };
}
