/**
 * The device workflow's activities: thin adapters to MongoDB. Each does one
 * thing and answers with facts; what to do next is the workflow's decision.
 */
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { releaseOfferSlot, takeOfferSlot } from '../db/offer-slots';
import { admit } from '../db/admission';
import { byIdentity, devices } from '../db/devices';
import { sessionOf } from '../db/presence';
import { applyRecordUpdate, recordId, recordsCollection, takeOwnRecord, takeWaitingRecord } from '../db/records';
import { taskFinishes } from '../orchestration/task-finishes';
import type { RecordUpdate } from '../domain/rollout';
import type { DeviceActivities } from './contracts';

export function createDeviceActivities(deps: {
  db: Db;
  client: Client;
  /** How often a waiting device workflow re-reads the registry (config `deviceRecheckS`). */
  recheckS: number;
}): DeviceActivities {
  const { db, client, recheckS } = deps;
  const tellFinished = taskFinishes(client);

  async function updateRecord(update: RecordUpdate): Promise<void> {
    await applyRecordUpdate(db, update);
  }

  return {
    async claimRecord({ taskId, productKey, deviceKey, runId, join }) {
      const _id = recordId(taskId, deviceKey);
      // Only a waiting record is taken: a second run started from an outdated read must not touch a decided one.
      let rec = await takeWaitingRecord(db, taskId, deviceKey, runId);
      if (!rec && join) {
        const doc = await devices(db).findOne(byIdentity({ productKey, deviceKey }), {
          projection: { firmwareVersion: 1 },
        });
        await admit(db, { taskId, productKey, ...join }, [{ deviceKey, version: doc?.firmwareVersion ?? null }]);
        rec = await takeWaitingRecord(db, taskId, deviceKey, runId);
      }
      const retaken = rec ? null : await takeOwnRecord(db, taskId, deviceKey, runId);
      rec ??= retaken ?? (await recordsCollection(db).findOne({ _id }));
      // Presence is the registry's, the one source of truth (db/presence.ts).
      const session = rec ? await sessionOf(db, { productKey, deviceKey }) : { online: false, gatewayId: null };
      return {
        status: rec?.status ?? null,
        fromVersion: rec?.fromVersion ?? null,
        attempts: rec?.attempts ?? 0,
        ...session,
        recheckS,
        retaken: retaken !== null,
      };
    },

    async takeOfferSlot({ taskId, deviceKey, limit }) {
      return takeOfferSlot(db, taskId, deviceKey, limit);
    },

    async lookUpDevice({ productKey, deviceKey }) {
      const doc = await devices(db).findOne(byIdentity({ productKey, deviceKey }), {
        projection: { online: 1, firmwareVersion: 1 },
      });
      return { online: doc?.online === true, version: doc?.firmwareVersion ?? null };
    },

    updateRecord,

    async finishRecord(update, outcome, opts) {
      await updateRecord(update);
      if (opts.releaseOfferSlot) await releaseOfferSlot(db, update.taskId, update.deviceKey);
      // Batched with other devices of the task finishing meanwhile (one signal, one history event).
      await tellFinished(update.taskId, { deviceKey: update.deviceKey, outcome, attempt: opts.attempt });
    },
  };
}
