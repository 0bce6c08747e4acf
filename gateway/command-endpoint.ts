/**
 * POST /commands on the gateway's HTTP port: the worker hands an upgrade command
 * to the gateway holding the device's session and hears at once whether the
 * session took it. A direct call rather than a Temporal activity on a queue of
 * the gateway's: a device's command then costs its workflow no history writes
 * of its own, and the embedded Temporal's one store is what bounds a rollout
 * (docs/capacity.md).
 *
 * Commanding a device is the service identity's right, so the call must carry
 * its secret (`Authorization: Bearer <OTA_SERVICE_MQTT_PASSWORD>`); without it
 * the answer is 401 before the body is read. A body that is not one well-formed
 * command is refused (400, 413) and delivers nothing.
 */
import type * as http from 'node:http';
import type { CommandHandover, CommandRequest, UpgradeCommand } from '../activities/gateway-contracts';
import {
  IDENTIFIER_PATTERN,
  MAX_IDENTIFIER_LENGTH,
  MAX_VERSION_LENGTH,
  SAFE_TEXT_PATTERN,
  VERSION_PATTERN,
} from '../domain/keys';
import type { Logger } from '../runtime/log';
import { secretEquals } from './auth';
import { BodyTooLarge, readBody } from '../runtime/http-body';

export const COMMANDS_PATH = '/commands';
/** One command is well under a kilobyte; a firmware URL may be long. */
export const MAX_COMMAND_BYTES = 16 * 1024;
const MAX_TEXT = 4096;

export interface CommandEndpointDeps {
  /** The service identity's secret. */
  secret: string;
  deliver(command: UpgradeCommand, runId?: string): Promise<CommandHandover>;
  log: Logger;
}

type Send = (status: number, body: unknown, headers?: Record<string, string>) => void;

export function createCommandEndpoint(deps: CommandEndpointDeps) {
  return (req: http.IncomingMessage, send: Send): void => {
    if (req.method !== 'POST') {
      return send(405, problem('method_not_allowed', `${COMMANDS_PATH} takes POST`), { allow: 'POST' });
    }
    if (!authorized(req.headers.authorization, deps.secret)) {
      req.resume();
      return send(401, problem('unauthorized', 'the service secret is required'), {
        'www-authenticate': 'Bearer',
      });
    }
    readBody(req, MAX_COMMAND_BYTES, 'a command').then(
      (text) => {
        let request: CommandRequest;
        try {
          request = parseCommandRequest(text);
        } catch (err) {
          return send(400, problem('bad_request', (err as Error).message));
        }
        deps.deliver(request.command, request.runId).then(
          (handover) => send(200, handover),
          (err: unknown) => {
            deps.log.warn('command not delivered: the gateway could not check the device', {
              productKey: request.command.productKey,
              deviceKey: request.command.deviceKey,
              err,
            });
            send(503, problem('unavailable', 'the gateway could not check the device now; try again'));
          },
        );
      },
      (err: BodyTooLarge | Error) =>
        err instanceof BodyTooLarge
          ? send(413, problem('too_large', err.message))
          : send(400, problem('bad_request', err.message)),
    );
  };
}

/** The error body every answer of the gateway's HTTP port has (the API's shape). */
export const problem = (code: string, message: string) => ({ error: { code, message, details: [] } });

function authorized(header: string | undefined, secret: string): boolean {
  const match = /^Bearer (.+)$/.exec(header ?? '');
  return match !== null && secretEquals(secret, match[1]!);
}

const IDENTIFIER = new RegExp(IDENTIFIER_PATTERN);
const VERSION = new RegExp(VERSION_PATTERN);
const TEXT = new RegExp(SAFE_TEXT_PATTERN, 'u');

/** The request, or an error that says what is wrong with it. Exported for its tests. */
export function parseCommandRequest(text: string): CommandRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error('the body must be JSON: {"command": {...}, "runId"?: string}');
  }
  const { command, runId } = object(body, 'the body');
  const c = object(command, 'command');
  const f = object(c.firmware, 'command.firmware');
  const parsed: UpgradeCommand = {
    productKey: matching(c.productKey, 'command.productKey', IDENTIFIER, MAX_IDENTIFIER_LENGTH),
    deviceKey: matching(c.deviceKey, 'command.deviceKey', IDENTIFIER, MAX_IDENTIFIER_LENGTH),
    commandId: matching(c.commandId, 'command.commandId', TEXT, MAX_TEXT),
    firmware: {
      version: matching(f.version, 'command.firmware.version', VERSION, MAX_VERSION_LENGTH),
      signMethod: oneOf(f.signMethod, 'command.firmware.signMethod', ['md5', 'sha256'] as const),
      sign: matching(f.sign, 'command.firmware.sign', /^[0-9a-fA-F]+$/, 128),
      fileUrl: matching(f.fileUrl, 'command.firmware.fileUrl', TEXT, MAX_TEXT),
      fileSize: size(f.fileSize, 'command.firmware.fileSize'),
    },
  };
  if (runId === undefined) return { command: parsed };
  return { command: parsed, runId: matching(runId, 'runId', TEXT, 128) };
}

function object(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${name} must be an object`);
  return value as Record<string, unknown>;
}

function matching(value: unknown, name: string, pattern: RegExp, maxLength: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength || !pattern.test(value)) {
    throw new Error(`${name} must be a non-empty string of at most ${maxLength} characters matching ${pattern.source}`);
  }
  return value;
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new Error(`${name} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function size(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer`);
  }
  return value;
}
