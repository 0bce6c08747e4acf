/**
 * The CONNECT check (Aedes `authenticate` hook): the service identity by
 * password, a device by its EnOS signature against the registry's secret
 * (securemode=2), or an unactivated device of a product with dynamic
 * activation by its signature against the product secret (securemode=3).
 * Refusals are logged with the reason and identifiers, never a secret or password.
 */
import type { AuthenticateError, AuthErrorCode, Client } from 'aedes';
import type { Config } from '../config/config';
import type { LoginRecord } from '../db/device-presence';
import type { ProductLoginRecord } from '../db/products';
import type { DeviceRef } from '../orchestration/device-events';
import type { Logger } from '../runtime/log';
import type { LoginGuard } from './login-guard';
import { scopedClientId } from './sessions';
import { certificateNamesDevice, type ClientCertificate } from './tls';
import {
  computeSign,
  digestFor,
  parseClientId,
  parseUsername,
  secretEquals,
  signMatches,
  type DigestName,
} from './auth';
import { codecFor, type PayloadCodec } from './codec';
import { bump, type GatewayMetrics } from './metrics';
import type { Sessions } from './sessions';

export interface LoginDeps {
  config: Pick<Config, 'serviceMqttUsername' | 'serviceMqttPassword'>;
  /** The registry's login record of a device (null: not registered). */
  findForLogin(device: DeviceRef): Promise<LoginRecord | null>;
  /** A product's activation setting and secret (null: no such product). */
  findProduct(productKey: string): Promise<ProductLoginRecord | null>;
  /** The device logged in with its own secret for the first time. */
  markActivated(device: DeviceRef): void;
  sessions: Sessions;
  metrics: GatewayMetrics;
  log: Logger;
  /** A newer session of the same device logged in with another client id: close the older one. */
  supersede(older: Client, device: DeviceRef): void;
  /** Failure budget per source address and the unknown-device memory. */
  guard: LoginGuard;
  /** The client's source address (the TCP peer). */
  addressOf(client: Client): string;
  /** What the TLS layer verified about the client's certificate. */
  clientCertificate(client: Client): ClientCertificate;
}

// CONNACK return codes (MQTT 3.1.1 §3.2.2.3); Aedes declares them as a const enum, which does not exist at run time.
const IDENTIFIER_REJECTED = 2 as AuthErrorCode;
const SERVER_UNAVAILABLE = 3 as AuthErrorCode;
const BAD_USERNAME_OR_PASSWORD = 4 as AuthErrorCode;
const NOT_AUTHORIZED = 5 as AuthErrorCode;

type Outcome = { ok: true } | { ok: false; code: AuthErrorCode; reason: string; fields?: Record<string, unknown> };

export function createAuthenticate(deps: LoginDeps) {
  return (
    client: Client,
    username: Readonly<string | undefined>,
    password: Readonly<Buffer | undefined>,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void => {
    const address = deps.addressOf(client);
    // Refused unread: an address that keeps failing costs neither a lookup nor a log line per attempt.
    if (!deps.guard.admits(address)) {
      bump(deps.metrics.connections.refused, 'too many failed logins from this address');
      done(Object.assign(new Error('too many failed logins'), { returnCode: SERVER_UNAVAILABLE }), false);
      return;
    }
    check(deps, client, username, password?.toString('utf8') ?? '').then(
      (outcome) => {
        if (outcome.ok) {
          deps.metrics.connections.accepted += 1;
          done(null, true);
          return;
        }
        deps.guard.failed(address);
        bump(deps.metrics.connections.refused, outcome.reason);
        deps.log.warn('login refused', { clientId: client.id, address, reason: outcome.reason, ...outcome.fields });
        done(Object.assign(new Error(outcome.reason), { returnCode: outcome.code }), false);
      },
      (err: unknown) => {
        bump(deps.metrics.connections.refused, 'registry unavailable');
        deps.log.error('login failed: registry unavailable', { clientId: client.id, err });
        done(Object.assign(new Error('registry unavailable'), { returnCode: SERVER_UNAVAILABLE }), false);
      },
    );
  };
}

async function check(
  deps: LoginDeps,
  client: Client,
  username: string | undefined,
  password: string,
): Promise<Outcome> {
  if (username === undefined || username === '') {
    return { ok: false, code: BAD_USERNAME_OR_PASSWORD, reason: 'no username' };
  }
  // A persistent session keeps subscriptions and queues messages for a client while it is away;
  // neither EnOS SDK asks for one, and nothing here is delivered through subscriptions.
  if (!client.clean) {
    return { ok: false, code: IDENTIFIER_REJECTED, reason: 'persistent session (clean=false) refused' };
  }
  if (username === deps.config.serviceMqttUsername) {
    if (!secretEquals(deps.config.serviceMqttPassword, password)) {
      return { ok: false, code: BAD_USERNAME_OR_PASSWORD, reason: 'wrong service password' };
    }
    if (client.closed) return { ok: false, code: NOT_AUTHORIZED, reason: 'closed during login' };
    // Scoped client ids: no login of one identity can take over the session of another by reusing its id.
    client.id = scopedClientId({ kind: 'service' }, client.id);
    deps.sessions.addService(client);
    return { ok: true };
  }

  const info = parseClientId(client.id);
  if (!info.ok)
    return { ok: false, code: IDENTIFIER_REJECTED, reason: 'garbled client id', fields: { detail: info.reason } };
  const { signClientId, secureMode, signMethod, timestamp, compress } = info.value;
  if (secureMode === '4') {
    // Message integration: one connection speaking for many devices through /sys/{pk}/integration/ topics.
    return {
      ok: false,
      code: NOT_AUTHORIZED,
      reason: 'unsupported securemode 4',
      fields: { detail: 'securemode=4 (message integration) is not supported; devices log in with 2 or 3' },
    };
  }
  if (secureMode !== '2' && secureMode !== '3') {
    return {
      ok: false,
      code: NOT_AUTHORIZED,
      reason: 'unsupported securemode',
      fields: {
        secureMode: secureMode.slice(0, 16),
        detail: 'only securemode=2 (device secret) and 3 (dynamic activation) are supported',
      },
    };
  }
  // Java 2.x compresses every payload and expects compressed ones back: a codec we lack would garble both ways.
  const compression = codecFor(compress);
  if (!compression.ok) {
    return {
      ok: false,
      code: NOT_AUTHORIZED,
      reason: compression.reason,
      fields: { compress: compress?.slice(0, 32), detail: compression.detail },
    };
  }
  const digest = digestFor(signMethod);
  if (!digest) return { ok: false, code: NOT_AUTHORIZED, reason: 'unsupported signmethod', fields: { signMethod } };
  const user = parseUsername(username);
  if (!user.ok) return { ok: false, code: BAD_USERNAME_OR_PASSWORD, reason: 'garbled username' };
  const device: DeviceRef = { productKey: user.value.productKey, deviceKey: user.value.deviceKey };
  const certificate = deps.clientCertificate(client);
  const certified = certificateNamesDevice(certificate, device);
  if (!certified.ok) return { ok: false, code: NOT_AUTHORIZED, reason: certified.reason, fields: { ...device } };
  const sign = (secret: string) => computeSign({ signClientId, ...device, timestamp, secret }, digest);
  if (secureMode === '3') return checkActivation(deps, client, device, { sign, password, digest }, compression.codec);

  const record = await findDevice(deps, device);
  if (!record) return { ok: false, code: BAD_USERNAME_OR_PASSWORD, reason: 'unknown device', fields: { ...device } };
  if (!signMatches(sign(record.deviceSecret), password)) {
    return { ok: false, code: BAD_USERNAME_OR_PASSWORD, reason: 'wrong signature', fields: { ...device, signMethod } };
  }
  // The socket may have gone while we read the registry; a dead client must not displace a live session.
  if (client.closed) return { ok: false, code: NOT_AUTHORIZED, reason: 'closed during login', fields: { ...device } };
  client.id = scopedClientId({ kind: 'device', device }, client.id);
  const older = deps.sessions.claim(client, device, compression.codec);
  // Same client id: Aedes closes the older session itself. Another client id: we do.
  if (older && older.id !== client.id) deps.supersede(older, device);
  // Proof that the device holds its secret: from now on it may not activate dynamically again.
  if (!record.activatedAt) deps.markActivated(device);
  return { ok: true };
}

/**
 * securemode=3: the signature is checked before anything about the product's
 * setting or the device's state is told, so without the product secret every
 * refusal reads "bad username or password".
 */
async function checkActivation(
  deps: LoginDeps,
  client: Client,
  device: DeviceRef,
  given: { sign: (secret: string) => string; password: string; digest: DigestName },
  codec: PayloadCodec | undefined,
): Promise<Outcome> {
  const [product, record] = await Promise.all([deps.findProduct(device.productKey), findDevice(deps, device)]);
  if (!product) return { ok: false, code: BAD_USERNAME_OR_PASSWORD, reason: 'unknown product', fields: { ...device } };
  // EnOS pre-registers dynamically activated devices: the product secret does not create devices.
  if (!record) return { ok: false, code: BAD_USERNAME_OR_PASSWORD, reason: 'unknown device', fields: { ...device } };
  if (!signMatches(given.sign(product.productSecret), given.password)) {
    return {
      ok: false,
      code: BAD_USERNAME_OR_PASSWORD,
      reason: 'wrong product signature',
      fields: { ...device, digest: given.digest },
    };
  }
  if (!product.dynamicActivation) {
    return { ok: false, code: NOT_AUTHORIZED, reason: 'dynamic activation off', fields: { ...device } };
  }
  // Once activated, the device secret is never handed out again: whoever holds the product secret is not the device.
  if (record.activatedAt) {
    return { ok: false, code: NOT_AUTHORIZED, reason: 'device already activated', fields: { ...device } };
  }
  if (client.closed) return { ok: false, code: NOT_AUTHORIZED, reason: 'closed during login', fields: { ...device } };
  client.id = scopedClientId({ kind: 'activation', device }, client.id);
  deps.sessions.addActivation(client, device, record.deviceSecret, codec);
  return { ok: true };
}

/** The registry's login record, with unknown devices remembered for a while (login storms of made-up keys). */
async function findDevice(deps: LoginDeps, device: DeviceRef): Promise<LoginRecord | null> {
  if (deps.guard.isKnownUnknown(device)) return null;
  const record = await deps.findForLogin(device);
  if (!record) deps.guard.rememberUnknown(device);
  return record;
}
