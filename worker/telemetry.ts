/**
 * The worker's telemetry: the Temporal Runtime installed with our logger (so
 * the SDK's own lines, native Core's included, come out as pino JSON too) and the SDK's Prometheus
 * exporter, and our registry with per-activity counts and durations.
 * Runtime.install must run before the first NativeConnection.
 */
import type { Context } from '@temporalio/activity';
import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';
import { Runtime, type ActivityInboundCallsInterceptor, type ActivityInterceptorsFactory } from '@temporalio/worker';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Config } from '../config/config';
import type { Logger } from '../runtime/log';
import { createRegistry } from '../runtime/metrics';
import { freePort } from '../runtime/net';

/** The SDK's Logger on ours; TRACE goes to debug. */
export function sdkLogger(log: Logger): SdkLogger {
  const at = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const fields = meta ? { ...meta } : undefined;
    if (level === 'ERROR') log.error(message, fields);
    else if (level === 'WARN') log.warn(message, fields);
    else if (level === 'INFO') log.info(message, fields);
    else log.debug(message, fields);
  };
  return {
    log: at,
    trace: (m, meta) => at('TRACE', m, meta),
    debug: (m, meta) => at('DEBUG', m, meta),
    info: (m, meta) => at('INFO', m, meta),
    warn: (m, meta) => at('WARN', m, meta),
    error: (m, meta) => at('ERROR', m, meta),
  };
}

/**
 * Installs the Runtime; returns the URL of the SDK's metrics (`temporal_*`,
 * Prometheus conventions: `_total` counters, durations in seconds).
 */
export async function installRuntime(config: Config, log: Logger): Promise<string> {
  // 0 means "any free port", like the other ports; the exporter needs a fixed address.
  const port = config.workerSdkMetricsPort || (await freePort());
  const bindAddress = `${config.workerHttpHost}:${port}`;
  Runtime.install({
    logger: sdkLogger(log.child({ sdk: 'temporal' })),
    telemetryOptions: {
      // Core's own (native) warnings too, instead of its separate console format.
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      metrics: {
        prometheus: { bindAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true },
      },
    },
  });
  return `http://${bindAddress}/metrics`;
}

/** Our registry: Node's process metrics and each activity's outcome and duration. */
export function workerRegistry(): { registry: Registry; activityInterceptors: ActivityInterceptorsFactory } {
  const registry = createRegistry();
  const finished = new Counter({
    name: 'ota_worker_activities_total',
    help: 'Activity executions finished by this worker, by activity type and outcome.',
    labelNames: ['activity', 'outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'ota_worker_activity_duration_seconds',
    help: 'Time an activity execution took on this worker, by activity type.',
    labelNames: ['activity'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const activityInterceptors: ActivityInterceptorsFactory = (ctx: Context) => {
    const activity = ctx.info.activityType;
    const inbound: ActivityInboundCallsInterceptor = {
      async execute(input, next) {
        const end = duration.startTimer({ activity });
        try {
          const result: unknown = await next(input);
          finished.inc({ activity, outcome: 'completed' });
          return result;
        } catch (err) {
          finished.inc({ activity, outcome: 'failed' });
          throw err;
        } finally {
          end();
        }
      },
    };
    return { inbound };
  };
  return { registry, activityInterceptors };
}
