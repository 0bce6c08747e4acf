/**
 * A push's first command can go out with the device workflow's claim of its record, in the same
 * local activity: each local activity costs the workflow an activation, and a rollout pays it once
 * per device. Only the plain case does: the record waited for this run (not taken back by it),
 * the device is not on the target already, and presence names the gateway holding its session.
 * Every other case is the workflow's own steps (workflows/device-upgrade.ts, `begin`), and so is
 * a command that gateway did not take.
 */
import { commandId } from './ids';
import type { RecordUpdate } from './rollout';
import type { RecordStatus } from './types';

/** What the claim read, as far as the rule needs it. */
export interface ClaimRead {
  status: RecordStatus | null;
  retaken: boolean;
  fromVersion: string | null;
  online: boolean;
  gatewayId: string | null;
}

/** The gateway the first command goes to with the claim; null when the workflow takes its own steps. */
export function firstPushGateway(claim: ClaimRead, targetVersion: string): string | null {
  const plain = claim.status === 'to_be_pushed' && !claim.retaken && claim.fromVersion !== targetVersion;
  return plain && claim.online ? claim.gatewayId : null;
}

/** The record's fields once an attempt's command is out. */
export const pushedFields = (attempt: number) =>
  ({ status: 'pushed', attempts: attempt, progress: 0, failure: null, waitReason: null }) as const;

/** The timeline's word for a command: its id, which the device's replies name. */
export const commandDetail = (id: string): string => `command ${id}`;

/** The record write of a first push: what the workflow's own push writes for the same attempt. */
export function firstPushRecord(taskId: string, deviceKey: string, attempt: number, at: string): RecordUpdate {
  return {
    taskId,
    deviceKey,
    ...pushedFields(attempt),
    timeline: [{ at, event: 'pushed', detail: commandDetail(commandId(taskId, deviceKey, attempt)) }],
  };
}
