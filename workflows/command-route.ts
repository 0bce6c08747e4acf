/**
 * How a device workflow hands an upgrade command to the device: to the gateway
 * that holds the device's session, at its command endpoint. The registry's
 * presence names that gateway; the gateway publishes to its local session and
 * answers whether the session took it. A device that moved to another gateway,
 * or a gateway that is gone (it does not answer, or is not in the gateway
 * directory), sends the workflow back to presence for the current one.
 *
 * Both steps are local activities, run by the worker within the workflow task:
 * the command costs the workflow's history a marker, not an activity's events
 * and a workflow task of its own.
 */
import * as wf from '@temporalio/workflow';
import type { CommandHandover, RouteActivities, UpgradeCommand } from '../activities/gateway-contracts';
import type { RecordUpdate } from '../domain/rollout';
import type { DeviceRef } from '../domain/types';

/** Looks at presence this many times before it says the device is not connected. */
const MAX_ROUTES = 3;
/** Between two looks: long enough for a moving device's presence write to land. */
const RELOOK = '1 second';

const { locateDeviceSession } = wf.proxyLocalActivities<RouteActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
});

const { deliverUpgradeCommand } = wf.proxyLocalActivities<RouteActivities>({
  // Past the activity's own 10 s wait for the gateway's answer.
  startToCloseTimeout: '15 seconds',
  // A failure goes back to presence: the device may be elsewhere by now.
  retry: { maximumAttempts: 1 },
});

/**
 * Delivers the command to the device's live session, wherever it is, and names the session that
 * took it; `not-connected` when presence
 * finds no gateway holding it (the device is pushed again when it is back, as after any reconnect).
 * `route.knownGateway`: presence read just before (the claim's), tried first without reading it again;
 * `route.lookedOnce`: the claim tried it already (domain/first-push.ts), so the next look is presence's, after a pause.
 * `recordIfDelivered`: the record write that goes with a delivered command, made by the hand-over.
 */
export async function sendUpgradeCommand(
  command: UpgradeCommand,
  route: CommandRoute,
  recordIfDelivered?: RecordUpdate,
): Promise<CommandHandover> {
  const device = { productKey: command.productKey, deviceKey: command.deviceKey };
  const knownGateway = route.knownGateway ?? null;
  for (let look = route.lookedOnce ? 2 : 1; look <= MAX_ROUTES; look++) {
    if (look > 1) await wf.sleep(RELOOK);
    const { gatewayId } =
      look === 1 && knownGateway !== null ? { gatewayId: knownGateway } : await locateDeviceSession(device);
    if (gatewayId === null) return NOT_CONNECTED;
    try {
      const runId = wf.workflowInfo().runId;
      const handover = await deliverUpgradeCommand({ gatewayId, command, runId, recordIfDelivered });
      if (handover.delivery === 'delivered') return handover;
    } catch (err) {
      // A local activity's failure arrives as its cause (no ActivityFailure around it); a cancel goes on up.
      if (!(err instanceof wf.TemporalFailure) || err instanceof wf.CancelledFailure) throw err;
      warnNotTaken(device, gatewayId, err.cause?.message ?? err.message);
    }
  }
  return NOT_CONNECTED;
}

/** The gateway presence named could not be reached, or was not in the directory: presence is asked again. */
export function warnNotTaken(device: DeviceRef, gatewayId: string, reason: string | undefined): void {
  wf.log.warn('upgrade command not taken by the gateway holding the session', { ...device, gatewayId, reason });
}

export interface CommandRoute {
  knownGateway?: string | null;
  lookedOnce?: boolean;
}

const NOT_CONNECTED: CommandHandover = { delivery: 'not-connected' };
