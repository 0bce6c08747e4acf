/**
 * EnOS topic names, parsed (pure). Everything a device may touch lives under
 * `/sys/{productKey}/{deviceKey}/`; the OTA kinds are dispatched on the topic,
 * never on the payload's method (SDKs disagree on method names). The one
 * exception is dynamic activation (gateway/activation.ts), under `/ext/session/{pk}/{dk}/`.
 */
import type { DeviceRef } from '../orchestration/device-events';

/** Device → cloud OTA topics (the suffix after `/sys/{pk}/{dk}/ota/device/`). */
export const UPSTREAM_OTA_KINDS = ['inform', 'progress', 'getversion', 'request', 'upgrade_reply'] as const;
export type UpstreamOtaKind = (typeof UPSTREAM_OTA_KINDS)[number];

/** Cloud → device command topics the service identity may publish (delivered without a SUBSCRIBE). */
export const DOWNSTREAM_COMMAND_SUFFIXES = ['ota/device/upgrade'] as const;

export interface SysTopic extends DeviceRef {
  /** The rest after `/sys/{pk}/{dk}/`, e.g. `ota/device/inform`. */
  suffix: string;
}

export function parseSysTopic(topic: string): SysTopic | undefined {
  if (!topic.startsWith('/sys/')) return undefined;
  const parts = topic.split('/');
  // ['', 'sys', pk, dk, ...suffix]
  if (parts.length < 5) return undefined;
  const [, , productKey, deviceKey] = parts;
  const suffix = parts.slice(4).join('/');
  if (!productKey || !deviceKey || suffix === '') return undefined;
  return { productKey, deviceKey, suffix };
}

export function otaKindOf(suffix: string): UpstreamOtaKind | undefined {
  const prefix = 'ota/device/';
  if (!suffix.startsWith(prefix)) return undefined;
  const kind = suffix.slice(prefix.length);
  return (UPSTREAM_OTA_KINDS as readonly string[]).includes(kind) ? (kind as UpstreamOtaKind) : undefined;
}

export function isDownstreamCommand(suffix: string): boolean {
  return (DOWNSTREAM_COMMAND_SUFFIXES as readonly string[]).includes(suffix);
}

/** The cloud's reply topics to device requests (a device must not publish there). */
export function isCloudReplyTopic(suffix: string): boolean {
  const kind = suffix.endsWith('_reply') ? otaKindOf(suffix.slice(0, -'_reply'.length)) : undefined;
  return kind !== undefined && kind !== 'upgrade_reply';
}

export function replyTopic(topic: string): string {
  return `${topic}_reply`;
}

export function devicePrefix(device: DeviceRef): string {
  return `/sys/${device.productKey}/${device.deviceKey}/`;
}

/** One string per device, for maps. */
export function deviceId(device: DeviceRef): string {
  return `${device.productKey}/${device.deviceKey}`;
}

/** Where the cloud pushes a dynamically activating device its secret (`thing.activate.info`); it answers on `…_reply`. */
export function activateInfoTopic(device: DeviceRef): string {
  return `/ext/session/${device.productKey}/${device.deviceKey}/thing/activate/info`;
}
