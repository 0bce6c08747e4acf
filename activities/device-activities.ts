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
import { firstPushGateway, firstPushRecord } from '../domain/first-push';
import { commandId } from '../domain/ids';
import type { RecordUpdate } from '../domain/rollout';
import type { FirmwareOffer } from '../domain/types';
import type { Claim, DeviceActivities, FirstPush } from './contracts';
import type { RouteActivities } from './gateway-contracts';

/**
 * The claim's first command, when domain/first-push.ts allows it: handed to the gateway presence
 * named, with the record write of its attempt. A gateway that cannot be reached is an answer
 * (`failed`), not a failed claim. Undefined when the workflow takes its own steps.
 */
export async function pushWithClaim(
  claim: Claim,
  { taskId, productKey, deviceKey, runId }: { taskId: string; productKey: string; deviceKey: string; runId: string },
  { firmware, at }: { firmware: FirmwareOffer; at: string },
  handOver: RouteActivities['deliverUpgradeCommand'],
): Promise<FirstPush | undefined> {
  const gatewayId = firstPushGateway(claim, firmware.version);
  if (gatewayId === null) return undefined;
  const attempt = claim.attempts + 1;
  const command = { productKey, deviceKey, commandId: commandId(taskId, deviceKey, attempt), firmware };
  const recordIfDelivered = firstPushRecord(taskId, deviceKey, attempt, at);
  try {
    const { delivery, sessionSince } = await handOver({ gatewayId, command, runId, recordIfDelivered });
    return { attempt, gatewayId, delivery, ...(sessionSince !== undefined && { sessionSince }) };
  } catch (err) {
    return { attempt, gatewayId, delivery: 'failed', reason: (err as Error).message };
  }
}

export function createDeviceActivities(deps: {
  db: Db;
  client: Client;
  /** How often a waiting device workflow re-reads the registry (config `deviceRecheckS`). */
  recheckS: number;
  /** The hand-over to a gateway (activities/route-activities.ts), for a first command sent with the claim. */
  handOver: RouteActivities['deliverUpgradeCommand'];
}): DeviceActivities {
  const { db, client, recheckS, handOver } = deps;
  const tellFinished = taskFinishes(client);

  async function updateRecord(update: RecordUpdate): Promise<void> {
    await applyRecordUpdate(db, update);
  }

  return {
    async claimRecord({ taskId, productKey, deviceKey, runId, join, pushWith }) {
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
      const claim: Claim = {
        status: rec?.status ?? null,
        fromVersion: rec?.fromVersion ?? null,
        attempts: rec?.attempts ?? 0,
        ...session,
        recheckS,
        retaken: retaken !== null,
      };
      const firstPush =
        pushWith && (await pushWithClaim(claim, { taskId, productKey, deviceKey, runId }, pushWith, handOver));
      return firstPush ? { ...claim, firstPush } : claim;
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
