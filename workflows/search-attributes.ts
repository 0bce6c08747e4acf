/**
 * Custom search attributes: what lets a person filter the Temporal Web UI down
 * to one task's device workflows, one device, one firmware version or a status.
 * The launcher, the test harness and docker-compose register exactly these.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const OtaTaskId = defineSearchAttributeKey('OtaTaskId', SearchAttributeType.KEYWORD);
export const OtaProductKey = defineSearchAttributeKey('OtaProductKey', SearchAttributeType.KEYWORD);
export const OtaDeviceKey = defineSearchAttributeKey('OtaDeviceKey', SearchAttributeType.KEYWORD);
export const OtaFirmwareVersion = defineSearchAttributeKey('OtaFirmwareVersion', SearchAttributeType.KEYWORD);
export const OtaStatus = defineSearchAttributeKey('OtaStatus', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [OtaTaskId, OtaProductKey, OtaDeviceKey, OtaFirmwareVersion, OtaStatus] as const;

/** `--search-attribute Name=Keyword` arguments for `temporal server start-dev`. */
export function searchAttributeCliArgs(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]);
}
