/**
 * Where a device's commands go, and the hand-over: presence (the registry's, the one source
 * of truth) names the gateway holding the device's session, the gateway directory names that
 * gateway's command endpoint, and the command is posted there with the service secret (and,
 * once a session took it, the device's record says so).
 */
import type { Db } from 'mongodb';
import { gatewayCommandUrl } from '../db/gateway-directory';
import { sessionGatewayOf } from '../db/presence';
import { applyRecordUpdate } from '../db/records';
import { postJson } from '../runtime/json-post';
import type { Logger } from '../runtime/log';
import type { CommandHandover, CommandRequest, RouteActivities } from './gateway-contracts';

/** A gateway that has not answered by then is taken for gone (the device workflow asks presence again). */
const DELIVERY_TIMEOUT_MS = 10_000;
/** A gateway's address is read again after this long, and at once after a failed call. */
const ADDRESS_TTL_MS = 30_000;

export interface RouteDeps {
  db: Db;
  /** The service identity's secret: commanding a device is its right. */
  serviceSecret: string;
  log: Logger;
  /** How long a gateway has to answer (default 10 s); past it the gateway is taken for gone. */
  deliveryTimeoutMs?: number;
}

export function createRouteActivities(deps: RouteDeps): RouteActivities {
  const addresses = new Map<string, { url: string; readAt: number }>();

  const addressOf = async (gatewayId: string): Promise<string> => {
    const known = addresses.get(gatewayId);
    if (known && Date.now() - known.readAt < ADDRESS_TTL_MS) return known.url;
    const url = await gatewayCommandUrl(deps.db, gatewayId);
    if (url === null) throw new Error(`gateway ${gatewayId} is not in the gateway directory`);
    addresses.set(gatewayId, { url, readAt: Date.now() });
    return url;
  };

  return {
    async locateDeviceSession(device) {
      return { gatewayId: await sessionGatewayOf(deps.db, device) };
    },

    async deliverUpgradeCommand({ gatewayId, recordIfDelivered, ...request }) {
      const url = await addressOf(gatewayId);
      let handover: CommandHandover;
      try {
        handover = await post(url, request, deps.serviceSecret, deps.deliveryTimeoutMs ?? DELIVERY_TIMEOUT_MS);
      } catch (err) {
        addresses.delete(gatewayId);
        if (err instanceof Refused) deps.log.error('gateway refused the service secret', { gatewayId, url });
        throw new Error(`gateway ${gatewayId} at ${url}: ${(err as Error).message}`);
      }
      if (handover.delivery === 'delivered' && recordIfDelivered) await applyRecordUpdate(deps.db, recordIfDelivered);
      return handover;
    },
  };
}

/** The gateway does not take our service secret: a configuration error, not a gone gateway. */
class Refused extends Error {}

async function post(url: string, request: CommandRequest, secret: string, timeoutMs: number): Promise<CommandHandover> {
  const { status, body } = await postJson(url, request, { authorization: `Bearer ${secret}` }, timeoutMs);
  const answer = (body ?? {}) as { delivery?: unknown; sessionSince?: unknown; error?: { message?: unknown } };
  if (status === 401) throw new Refused("answered 401: the service secret differs from the gateway's");
  if (status < 200 || status > 299) {
    throw new Error(`answered ${status}: ${String(answer.error?.message ?? 'no reason given')}`);
  }
  const { delivery, sessionSince } = answer;
  if (delivery !== 'delivered' && delivery !== 'not-connected') {
    throw new Error(`answered without a delivery: ${JSON.stringify(body)}`);
  }
  return typeof sessionSince === 'number' ? { delivery, sessionSince } : { delivery };
}
