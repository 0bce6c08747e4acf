/**
 * How a device workflow hands an upgrade command to the device: through the
 * task queue of the gateway that holds the device's session. The registry's
 * presence names that gateway; the gateway's own worker publishes to its
 * local session. A device that moved to another gateway, or a gateway that
 * is gone (its queue has no poller: the activity times out before it
 * starts), sends the workflow back to presence for the current one.
 */
import * as wf from '@temporalio/workflow';
import type {
  CommandDelivery,
  GatewayActivities,
  RouteActivities,
  UpgradeCommand,
} from '../activities/gateway-contracts';
import { gatewayTaskQueue } from '../domain/gateway-queue';

/** Looks at presence this many times before it says the device is not connected. */
const MAX_ROUTES = 3;
/** A gateway that has not picked the command up by then is taken for gone. */
const GATEWAY_PICKUP = '10 seconds';
/** Between two looks: long enough for a moving device's presence write to land. */
const RELOOK = '1 second';

/** Read in the worker, within the workflow task: no server round trip for a registry read. */
const { locateDeviceSession } = wf.proxyLocalActivities<RouteActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
});

function gatewayActivities(gatewayId: string): GatewayActivities {
  return wf.proxyActivities<GatewayActivities>({
    taskQueue: gatewayTaskQueue(gatewayId),
    scheduleToStartTimeout: GATEWAY_PICKUP,
    startToCloseTimeout: '10 seconds',
    // A failure goes back to presence: the device may be elsewhere by now.
    retry: { maximumAttempts: 1 },
  });
}

/**
 * Delivers the command to the device's live session, wherever it is; `not-connected` when presence
 * finds no gateway holding it (the device is pushed again when it is back, as after any reconnect).
 * `knownGateway`: presence read just before (the claim's), tried first without reading it again.
 */
export async function sendUpgradeCommand(
  command: UpgradeCommand,
  knownGateway: string | null = null,
): Promise<CommandDelivery> {
  const device = { productKey: command.productKey, deviceKey: command.deviceKey };
  for (let look = 1; look <= MAX_ROUTES; look++) {
    if (look > 1) await wf.sleep(RELOOK);
    const { gatewayId } =
      look === 1 && knownGateway !== null ? { gatewayId: knownGateway } : await locateDeviceSession(device);
    if (gatewayId === null) return 'not-connected';
    try {
      const result = await gatewayActivities(gatewayId).deliverUpgradeCommand(command);
      if (result === 'delivered') return result;
    } catch (err) {
      if (!(err instanceof wf.ActivityFailure)) throw err;
      wf.log.warn('upgrade command not taken by the gateway holding the session', {
        ...device,
        gatewayId,
        reason: err.cause?.message ?? err.message,
      });
    }
  }
  return 'not-connected';
}
