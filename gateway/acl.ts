/**
 * Who may publish and subscribe where (pure). A device touches only its own
 * `/sys/{pk}/{dk}/` topics; an activation session (securemode=3) only its
 * activation topics; the service identity only publishes commands.
 */
import type { DeviceRef } from '../orchestration/device-events';
import {
  activateInfoTopic,
  devicePrefix,
  isCloudReplyTopic,
  isDownstreamCommand,
  otaKindOf,
  parseSysTopic,
  replyTopic,
} from './topics';

export type PublishDecision =
  | { allow: true; route: 'ota'; kind: NonNullable<ReturnType<typeof otaKindOf>> }
  /** Another upstream topic of the device's own: allowed, but this service has nothing to do with it. */
  | { allow: true; route: 'ignore' }
  | { allow: false; reason: string };

export function devicePublish(device: DeviceRef, topic: string): PublishDecision {
  const sys = parseSysTopic(topic);
  if (!sys) return { allow: false, reason: 'not a /sys/{productKey}/{deviceKey}/ topic' };
  if (sys.productKey !== device.productKey || sys.deviceKey !== device.deviceKey) {
    return { allow: false, reason: "another device's topic" };
  }
  if (isDownstreamCommand(sys.suffix) || isCloudReplyTopic(sys.suffix)) {
    return { allow: false, reason: 'a cloud-to-device topic' };
  }
  const kind = otaKindOf(sys.suffix);
  return kind ? { allow: true, route: 'ota', kind } : { allow: true, route: 'ignore' };
}

/**
 * Subscriptions must stay inside the device's own prefix: the first four levels
 * (`''`, `sys`, pk, dk) must be literal, so no `#` or `+` can reach another device.
 */
export function deviceSubscribe(device: DeviceRef, filter: string): boolean {
  const prefix = devicePrefix(device);
  if (!filter.startsWith(prefix) || filter.length === prefix.length) return false;
  const fixed = filter.slice(0, prefix.length).split('/');
  return !fixed.some((level) => level === '#' || level === '+');
}

/**
 * A session that logged in with the product secret has not proven it is the
 * device yet: it may publish only its answer to the activation info, nothing
 * under `/sys/` (no version reports, no progress), until it logs in again with
 * the device secret it was given.
 */
export function activationPublish(
  device: DeviceRef,
  topic: string,
): { allow: true } | { allow: false; reason: string } {
  if (topic === replyTopic(activateInfoTopic(device))) return { allow: true };
  if (topic.startsWith('/sys/')) return { allow: false, reason: 'an activation session may not publish under /sys/' };
  return { allow: false, reason: 'not the activation reply topic of this device' };
}

/** The EnOS docs have the device subscribe to its activation info (delivery needs no subscription): only that. */
export function activationSubscribe(device: DeviceRef, filter: string): boolean {
  return filter === activateInfoTopic(device);
}

/** The service identity publishes only to downstream command topics of some device. */
export function servicePublish(topic: string): { allow: true; device: DeviceRef } | { allow: false; reason: string } {
  const sys = parseSysTopic(topic);
  if (!sys || !isDownstreamCommand(sys.suffix)) return { allow: false, reason: 'not a downstream command topic' };
  return { allow: true, device: { productKey: sys.productKey, deviceKey: sys.deviceKey } };
}
