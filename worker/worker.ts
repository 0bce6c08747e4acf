/** The worker process: wiring only. Runs the workflows and activities on the project's task queue. */
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfig } from '../config/config';
import { waitForDependencies } from '../runtime/dependencies';
import { createLogger } from '../runtime/log';
import { startMetricsServer } from '../runtime/metrics';
import { buildBundle } from './bundle';
import { createWorkerActivities } from './activities';
import { installRuntime, workerRegistry } from './telemetry';
import { workerTracing } from './tracing';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('worker', config.logLevel, {}, { format: config.logFormat });
  const sdkMetricsUrl = await installRuntime(config, log);
  const { registry, activityInterceptors } = workerRegistry();
  const tracing = config.otlpTracesUrl === undefined ? undefined : workerTracing(config.otlpTracesUrl);
  const codePath = await buildBundle(false, tracing !== undefined);
  // Started during an outage (or restarted by the launcher in one), wait rather than exit.
  await waitForDependencies({ database: config.mongodbUrl, temporal: config.temporalAddress }, log);
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const { activities, close } = await createWorkerActivities(config, log, connection);
  const worker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.temporalTaskQueue,
    workflowBundle: { codePath },
    activities,
    interceptors: { activity: tracing ? [activityInterceptors, tracing.activityInterceptors] : [activityInterceptors] },
    ...(tracing && { sinks: tracing.sinks }),
    // Sized for a 2-core box that also runs Temporal, the database and the gateway; see README "Worker tuning":
    // a workflow task keeps its slot while its local activities wait on the database.
    maxCachedWorkflows: config.worker.maxCachedWorkflows,
    maxConcurrentWorkflowTaskExecutions: config.worker.workflowTaskSlots,
    maxConcurrentActivityTaskExecutions: config.worker.activityTaskSlots,
    maxConcurrentLocalActivityExecutions: config.worker.localActivitySlots,
    // Pollers as many as the server has tasks for, not the SDK's fixed ten (two of them on the
    // queue new workflows start on).
    workflowTaskPollerBehavior: { type: 'autoscaling', maximum: config.worker.maxPollers },
    activityTaskPollerBehavior: { type: 'autoscaling', maximum: config.worker.maxPollers },
  });
  const http = await startMetricsServer({
    host: config.workerHttpHost,
    port: config.workerHttpPort,
    registry,
    healthy: () => ({ ok: worker.getState() === 'RUNNING', detail: { state: worker.getState(), sdkMetricsUrl } }),
  });
  log.info('worker polling', {
    taskQueue: config.temporalTaskQueue,
    ...(config.otlpTracesUrl && { tracesTo: config.otlpTracesUrl }),
    temporal: config.temporalAddress,
    metrics: `${http.url}/metrics`,
    sdkMetrics: sdkMetricsUrl,
  });
  // Worker.run() returns after SIGINT/SIGTERM once in-flight tasks are done.
  await worker.run();
  await tracing?.shutdown();
  await http.close();
  await close();
  await connection.close();
  log.info('worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(`[worker] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
