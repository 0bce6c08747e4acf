/**
 * POST /v1/upgrade-tasks and POST /v1/firmwares/{id}/verification bodies:
 * the shape comes from the JSON Schemas; the cross-field rules live
 * here. The task-creation route calls, in order:
 *   validateUpgradeTaskRequest(body)        → shape, defaults, rules on the body alone
 *   checkTaskAgainstFirmware(req, fw)       → rules that need the firmware
 *   treeSelectionProblems(...) (domain/scope) via db/task-checks.ts → rules that need the trees
 */
import { conflict, type ErrorDetail } from '../errors';
import { scheduleProblems } from '../schedule';
import type { Firmware, UpgradeTaskRequest } from '../types';
import { checkSchema, invalidRequest, unprocessableRequest } from './compile';

/** The body of POST /v1/firmwares/{firmwareId}/verification after validation. */
export interface VerificationRequest {
  deviceKeys: string[];
  upgradeTimeout: number;
}

function duplicates<T>(items: readonly T[], keyOf: (item: T) => string, path: (i: number) => string): ErrorDetail[] {
  const firstAt = new Map<string, number>();
  const problems: ErrorDetail[] = [];
  items.forEach((item, i) => {
    const key = keyOf(item);
    const first = firstAt.get(key);
    if (first === undefined) firstAt.set(key, i);
    else problems.push({ path: path(i), message: `duplicates entry ${first}: "${key}" is listed twice` });
  });
  return problems;
}

/** Rules over several fields, which a JSON Schema cannot state clearly. */
function crossFieldProblems(req: UpgradeTaskRequest, nowMs: number): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  if (req.endTime !== undefined) {
    if (req.strategy !== 'increment') {
      problems.push({
        path: '/endTime',
        message: 'an end time is only for increment tasks; a snapshot task ends when its devices do',
      });
    } else if (Date.parse(req.endTime) <= nowMs) {
      problems.push({ path: '/endTime', message: `must be in the future (now is ${new Date(nowMs).toISOString()})` });
    }
  }
  if (req.scope === 'all' && req.filter !== undefined) {
    problems.push({ path: '/filter', message: 'a filter is only allowed with scope "target"' });
  }
  if (req.scope === 'target' && req.filter === undefined) {
    problems.push({
      path: '/filter',
      message: 'scope "target" needs a filter (deviceKeys, tags, attributes or assetTrees)',
    });
  }
  if (req.firstStage) {
    const { devices, percent } = req.firstStage;
    if ((devices === undefined) === (percent === undefined)) {
      problems.push({ path: '/firstStage', message: 'give the first stage a size: either devices or percent' });
    }
    if (req.method !== 'push') {
      problems.push({
        path: '/firstStage',
        message: 'a staged rollout is only for method "push"; upon request, devices ask for firmware themselves',
      });
    }
  }
  if (req.rateLimit && req.method !== 'push') {
    problems.push({
      path: '/rateLimit',
      message: 'a rate limit is only for method "push"; upon request, devices ask for firmware themselves',
    });
  }
  if (req.rateLimit?.ramp && req.rateLimit.ramp.startPerMinute > req.rateLimit.perMinute) {
    problems.push({
      path: '/rateLimit/ramp/startPerMinute',
      message: `must not exceed perMinute (${req.rateLimit.perMinute}), the ramp's ceiling`,
    });
  }
  if (req.scope === 'target' && req.method === 'request') {
    problems.push({ path: '/method', message: 'method "request" is only allowed with scope "all"; use "push"' });
  }
  const filter = req.filter;
  if (filter) {
    // The same key twice can never match under AND (or is redundant): say so rather than resolve nothing.
    problems.push(
      ...duplicates(
        filter.tags ?? [],
        (t) => t.key,
        (i) => `/filter/tags/${i}/key`,
      ),
    );
    problems.push(
      ...duplicates(
        filter.attributes ?? [],
        (a) => a.name,
        (i) => `/filter/attributes/${i}/name`,
      ),
    );
    problems.push(
      ...duplicates(
        filter.assetTrees ?? [],
        (t) => t.treeId,
        (i) => `/filter/assetTrees/${i}/treeId`,
      ),
    );
  }
  if (req.schedule) problems.push(...scheduleProblems(req.schedule, '/schedule'));
  return problems;
}

/**
 * Validates an upgrade task request body: unknown fields, types and ranges
 * (schema), then the cross-field rules on the body alone. Returns the request with
 * defaults applied (upgradeTimeout 7200, maxConcurrency 300). Throws
 * OtaError invalid_request (schema) or unprocessable (rules over several
 * fields) with every problem in `details`. `nowMs`: the
 * clock an end time must lie after.
 */
export function validateUpgradeTaskRequest(body: unknown, nowMs = Date.now()): UpgradeTaskRequest {
  const { value, details } = checkSchema<UpgradeTaskRequest>('UpgradeTaskCreate', body);
  if (details.length > 0) throw invalidRequest(details);
  const problems = crossFieldProblems(value, nowMs);
  if (problems.length > 0) throw unprocessableRequest(problems);
  return value;
}

/**
 * The rules that need the target firmware (null when firmwareId names none):
 * it must exist, be verified, and its version must not be a source version.
 * The body is well formed; the stored state refuses it, hence conflict (409).
 */
export function checkTaskAgainstFirmware(req: UpgradeTaskRequest, firmware: Firmware | null): void {
  if (!firmware) {
    throw conflict(`firmware ${req.firmwareId} does not exist`, [
      { path: '/firmwareId', message: `firmware "${req.firmwareId}" does not exist` },
    ]);
  }
  if (!firmware.verified) {
    throw conflict(`firmware ${firmware.firmwareId} is not verified`, [
      {
        path: '/firmwareId',
        message: `firmware "${firmware.firmwareId}" is not verified: run a verification upgrade on a few devices first`,
      },
    ]);
  }
  const index = req.sourceVersions.indexOf(firmware.version);
  if (index >= 0) {
    throw conflict(`sourceVersions contains the target version ${firmware.version}`, [
      { path: `/sourceVersions/${index}`, message: `"${firmware.version}" is the target firmware's own version` },
    ]);
  }
}

/** Validates a verification request: 1–5 distinct deviceKeys, optional upgradeTimeout (default 7200). */
export function validateVerificationRequest(body: unknown): VerificationRequest {
  const { value, details } = checkSchema<VerificationRequest>('VerificationCreate', body);
  if (details.length > 0) throw invalidRequest(details);
  return value;
}

/** Validates the optional body of POST /v1/upgrade-tasks/{taskId}/retry (an absent body means "all failed"). */
export function validateRetryRequest(body: unknown): { deviceKeys?: string[] } {
  const { value, details } = checkSchema<{ deviceKeys?: string[] }>('TaskRetry', body === undefined ? {} : body);
  if (details.length > 0) throw invalidRequest(details);
  return value;
}
