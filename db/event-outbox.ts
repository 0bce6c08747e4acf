/**
 * The gateway's outbox of device events the orchestration could not take
 * (Temporal unreachable): written by the gateway that saw the event, read back
 * and deleted by that same gateway once delivered. Each gateway owns the rows
 * whose `_id` starts with its own prefix, so the range of its `_id`s is its
 * whole outbox, in the order it wrote them: `_id` is the one field the
 * embedded FerretDB answers from an index, and a padded sequence number sorts
 * as text in write order.
 */
import type { Collection, Db } from 'mongodb';
import type { DeviceRef } from '../domain/types';

export const EVENT_OUTBOX = 'device_event_outbox';

/** A device event as the gateway tells it (orchestration/device-events.ts, all but the firmware request). */
export type OutboxEvent =
  | { kind: 'connected'; sessionSince?: number }
  | { kind: 'disconnected'; reason: string }
  | { kind: 'versionReported'; version: string }
  | { kind: 'progressReported'; step: number; desc: string }
  | { kind: 'upgradeReplied'; commandId: string; code: number; message: string };

export interface OutboxRow {
  _id: string;
  device: DeviceRef;
  event: OutboxEvent;
  /** When the gateway saw the event. */
  at: Date;
  /** Deliveries that failed while the orchestration answered other events: a poison event is dropped. */
  failures: number;
}

const SEQ_DIGITS = 16;
const rows = (db: Db): Collection<OutboxRow> => db.collection<OutboxRow>(EVENT_OUTBOX);

/** The part of `_id` that names the gateway; its length first, so no id is a prefix of another's. */
export function outboxPrefix(gatewayId: string): string {
  return `${gatewayId.length}:${gatewayId}#`;
}

function ownRange(gatewayId: string) {
  const prefix = outboxPrefix(gatewayId);
  // Digits sort before "~": every row of this gateway lies in [prefix, prefix + "~").
  return { _id: { $gte: prefix, $lt: `${prefix}~` } };
}

export function outboxRowId(gatewayId: string, seq: number): string {
  return `${outboxPrefix(gatewayId)}${String(seq).padStart(SEQ_DIGITS, '0')}`;
}

/** The sequence number after this gateway's last row (0 for an empty outbox). */
export async function nextOutboxSeq(db: Db, gatewayId: string): Promise<number> {
  const last = await rows(db).find(ownRange(gatewayId)).sort({ _id: -1 }).limit(1).next();
  if (!last) return 0;
  return Number(last._id.slice(outboxPrefix(gatewayId).length)) + 1;
}

export async function appendToOutbox(db: Db, row: OutboxRow): Promise<void> {
  await rows(db).insertOne(row);
}

/** This gateway's oldest rows, oldest first. */
export async function oldestInOutbox(db: Db, gatewayId: string, limit: number): Promise<OutboxRow[]> {
  return rows(db).find(ownRange(gatewayId)).sort({ _id: 1 }).limit(limit).toArray();
}

export async function countOutbox(db: Db, gatewayId: string): Promise<number> {
  return rows(db).countDocuments(ownRange(gatewayId));
}

/** Whether this call removed the row (false: another step removed it first). */
export async function removeFromOutbox(db: Db, id: string): Promise<boolean> {
  const res = await rows(db).deleteOne({ _id: id });
  return res.deletedCount === 1;
}

export async function countOutboxFailure(db: Db, id: string): Promise<void> {
  await rows(db).updateOne({ _id: id }, { $inc: { failures: 1 } });
}

/** Which device each of this gateway's rows is for, oldest first (bodies left out: a reply can be large). */
export async function outboxDevices(db: Db, gatewayId: string): Promise<{ _id: string; device: DeviceRef }[]> {
  return rows(db)
    .find(ownRange(gatewayId), { projection: { _id: 1, device: 1 } })
    .sort({ _id: 1 })
    .toArray();
}
