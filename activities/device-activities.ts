/** The device workflow's activities: thin adapters to MongoDB and the gateway. */
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { releaseOfferSlot, takeOfferSlot } from '../db/offer-slots';
import { admit } from '../db/admission';
import { byIdentity, devices } from '../db/devices';
import { isOnline } from '../db/presence';
import { applyRecordUpdate, markOwned, recordId, recordsCollection } from '../db/records';
import { taskWorkflowId } from '../domain/ids';
import { signalIfRunning } from '../orchestration/signal-if-running';
import { deviceFinished } from '../workflows/messages';
import type { CommandPublisher } from './command-publisher';
import type { RecordUpdate } from '../domain/rollout';
import type { DeviceActivities } from './contracts';

export function createDeviceActivities(deps: {
  db: Db;
  publisher: CommandPublisher;
  client: Client;
}): DeviceActivities {
  const { db, publisher, client } = deps;

  async function updateRecord(update: RecordUpdate): Promise<void> {
    await applyRecordUpdate(db, update);
  }

  return {
    async claimRecord({ taskId, productKey, deviceKey, offerSlot, join }) {
      // The version is the record's (as admitted); presence is the registry's, the one source of truth.
      const _id = recordId(taskId, deviceKey);
      let rec = await recordsCollection(db).findOne({ _id });
      if (!rec && join) {
        const doc = await devices(db).findOne(byIdentity({ productKey, deviceKey }), {
          projection: { firmwareVersion: 1 },
        });
        const task = { taskId, productKey, ...join };
        await admit(db, task, [{ deviceKey, version: doc?.firmwareVersion ?? null }]);
        rec = await recordsCollection(db).findOne({ _id });
      }
      const online = rec ? await isOnline(db, productKey, deviceKey) : false;
      // This activity retried after it had pushed (e.g. the worker died before reporting): pushed once is enough.
      if (rec?.status === 'pushed' || rec?.status === 'upgrading') {
        const attemptsBefore = Math.max(0, (rec.attempts ?? 1) - 1);
        return { online, version: rec.fromVersion, pushed: true, attemptsBefore };
      }
      // A claim can start a second run after the first one finished the record: never push twice.
      if (rec?.status !== 'to_be_pushed') return { online: false, version: null, pushed: false, stale: true };
      const version = rec?.fromVersion ?? null;
      // Pushes in earlier runs (an operator's retry, a re-admission): this run's command ids follow theirs.
      const attemptsBefore = rec?.attempts ?? 0;
      // The command goes out from the workflow, through the gateway that holds the device's session.
      const slot = offerSlot ? { offerSlot: await takeOfferSlot(db, taskId, deviceKey, offerSlot.limit) } : {};
      // Said before the device hears its refusal, so that the record shows why it still waits.
      await markOwned(db, taskId, deviceKey, slot.offerSlot === false);
      return { online, version, pushed: false, attemptsBefore, ...slot };
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
