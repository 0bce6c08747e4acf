/** Where a device's commands go: read from the registry's presence, the one source of truth. */
import type { Db } from 'mongodb';
import { sessionGatewayOf } from '../db/presence';
import type { RouteActivities } from './gateway-contracts';

export function createRouteActivities(deps: { db: Db }): RouteActivities {
  return {
    async locateDeviceSession(device) {
      return { gatewayId: await sessionGatewayOf(deps.db, device) };
    },
  };
}
