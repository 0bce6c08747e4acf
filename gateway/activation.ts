/**
 * Dynamic activation (EnOS securemode=3). A device that
 * logged in with its product's secret is pushed its own secret on
 * `/ext/session/{pk}/{dk}/thing/activate/info`; a 200 answer on `…_reply`
 * marks it activated, and it comes back with securemode=2. A device is also
 * activated by its first login with its own secret (an SDK handler that
 * returns nothing never answers). The activation session does nothing else:
 * it is not the device being online, so presence and the orchestration never
 * hear of it.
 */
import type { Client } from 'aedes';
import { activatedFields } from '../db/device-presence';
import type { DeviceRef } from '../orchestration/device-events';
import type { Logger } from '../runtime/log';
import type { Delivery } from './delivery';
import { bump, type GatewayMetrics } from './metrics';
import { CODE, parseCommandReply } from './ota-messages';
import type { RegistryAccess } from './registry-access';
import type { ActivationIdentity } from './sessions';
import { activateInfoTopic } from './topics';

/**
 * The Java SDK registers its activation handler only once its connect() has
 * returned, so a push right after CONNACK can beat it and be answered with
 * 1101 (no handler): a push answered with anything but 200 is repeated, a few times.
 */
export const MAX_ACTIVATION_PUSHES = 3;
export const ACTIVATION_RETRY_MS = 1000;

export interface ActivationDeps {
  registry: Pick<RegistryAccess, 'update'>;
  delivery: Delivery;
  metrics: GatewayMetrics;
  log: Logger;
}

interface SessionState {
  /** Command ids pushed to this session; an answer must name one of them. */
  ids: string[];
  acknowledged: boolean;
  retry?: NodeJS.Timeout;
}

export class Activation {
  private readonly states = new WeakMap<Client, SessionState>();
  private counter = 0;

  constructor(private readonly deps: ActivationDeps) {}

  /** After CONNACK: hand the session its device's secret. */
  start(client: Client, identity: ActivationIdentity): void {
    const state: SessionState = { ids: [], acknowledged: false };
    this.states.set(client, state);
    this.deps.log.info('activation session opened', { ...identity.device });
    this.push(client, identity, state);
  }

  /** The device's answer on `…/thing/activate/info_reply` (the ACL let nothing else through). */
  handleReply(client: Client, identity: ActivationIdentity, payload: Buffer): void {
    const { metrics, log } = this.deps;
    const device = identity.device;
    bump(metrics.messages, 'activate_info_reply');
    const reply = parseCommandReply(payload, identity.codec);
    if (!reply.ok) {
      metrics.malformedPayloads += 1;
      log.warn('malformed activation reply', {
        ...device,
        code: reply.code,
        reason: reply.message,
        bytes: payload.length,
      });
      return;
    }
    const state = this.states.get(client);
    if (!state || !state.ids.includes(reply.id)) {
      log.warn('activation reply names no activation info of this session', { ...device, id: reply.id });
      return;
    }
    if (state.acknowledged) return;
    if (reply.code !== CODE.ok) {
      metrics.activations.declined += 1;
      const again = state.ids.length < MAX_ACTIVATION_PUSHES && !state.retry;
      log.warn('device did not accept its activation info', {
        ...device,
        code: reply.code,
        message: reply.message.slice(0, 256),
        pushAgain: again,
      });
      if (again) {
        state.retry = setTimeout(() => {
          state.retry = undefined;
          this.push(client, identity, state);
        }, ACTIVATION_RETRY_MS);
        state.retry.unref();
      }
      return;
    }
    state.acknowledged = true;
    metrics.activations.acknowledged += 1;
    this.markActivated(device, 'activation acknowledged');
  }

  /** Stores activatedAt: after an acknowledged activation, or at the first device-secret login. */
  markActivated(device: DeviceRef, how: string): void {
    this.deps.log.info('device activated', { ...device, how });
    this.deps.registry.update(device, activatedFields(new Date())).catch((err: unknown) => {
      this.deps.metrics.databaseErrors += 1;
      this.deps.log.error('could not store the activation', { ...device, err });
    });
  }

  /** The session is gone: no more pushes. False when it was not (or no longer) known. */
  ended(client: Client): boolean {
    const state = this.states.get(client);
    if (state?.retry) clearTimeout(state.retry);
    return this.states.delete(client);
  }

  private push(client: Client, identity: ActivationIdentity, state: SessionState): void {
    const { productKey, deviceKey } = identity.device;
    this.counter += 1;
    const id = String(this.counter);
    state.ids.push(id);
    const command = {
      id,
      version: '1.0',
      method: 'thing.activate.info',
      // No asset ids here: an empty assetId is skipped by the Java SDK and unread by Python.
      params: { productKey, deviceKey, deviceSecret: identity.deviceSecret, assetId: '' },
    };
    const payload = Buffer.from(JSON.stringify(command), 'utf8');
    void this.deps.delivery.send(client, activateInfoTopic(identity.device), payload, 1).then((sent) => {
      if (sent) {
        this.deps.metrics.activations.pushed += 1;
        this.deps.log.info('activation info pushed', { ...identity.device, id });
      } else {
        this.deps.log.warn('activation info not delivered: session closed', { ...identity.device, id });
      }
    });
  }
}
