/**
 * What an unauthenticated login may cost. A source address that keeps failing
 * runs out of its failure budget and is refused before anything is read;
 * a device key found unknown is remembered for a while, so a storm of logins
 * for made-up devices costs one registry lookup per key, not one per attempt.
 */
import type { MqttLimits } from '../config/config';
import type { DeviceRef } from '../orchestration/device-events';
import { deviceId } from './topics';
import { ExpiringSet, KeyedBuckets } from './token-bucket';

/** Addresses and unknown devices remembered at most (least recently used forgotten first). */
const MAX_TRACKED = 100_000;

export class LoginGuard {
  /** Undefined when the budget is off (OTA_MQTT_LOGIN_FAILURE_BURST=0). */
  private readonly failures: KeyedBuckets | undefined;
  private readonly unknown: ExpiringSet;

  constructor(
    limits: Pick<MqttLimits, 'loginFailuresPerSec' | 'loginFailureBurst' | 'unknownDeviceCacheMs'>,
    private readonly now: () => number = Date.now,
  ) {
    const budget = { perSec: limits.loginFailuresPerSec, burst: limits.loginFailureBurst };
    this.failures = budget.burst > 0 ? new KeyedBuckets(budget, MAX_TRACKED) : undefined;
    this.unknown = new ExpiringSet(limits.unknownDeviceCacheMs, MAX_TRACKED);
  }

  /** False while the address has used up its failure budget. */
  admits(address: string): boolean {
    return this.failures?.has(address, this.now()) ?? true;
  }

  failed(address: string): void {
    this.failures?.take(address, this.now());
  }

  isKnownUnknown(device: DeviceRef): boolean {
    return this.unknown.has(deviceId(device), this.now());
  }

  rememberUnknown(device: DeviceRef): void {
    this.unknown.add(deviceId(device), this.now());
  }

  /** The registry changed (a device was created or deleted): forget what we believed about unknown devices. */
  forgetUnknown(): void {
    this.unknown.clear();
  }
}
