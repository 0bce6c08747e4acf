/**
 * Docker health check of a worker container: healthy when Temporal has seen THIS
 * container's worker poll its task queue recently. A live process that lost its
 * connection, or never registered, is reported unhealthy. Plain JS so it runs from
 * the image without compiling; wiring follows config/config.ts.
 */
const os = require('node:os');
const { Connection } = require('@temporalio/client');
const { temporal } = require('@temporalio/proto');

// An idle worker long-polls for about a minute at a time, so a healthy one re-polls well within this.
const MAX_POLL_AGE_MS = 120_000;

async function main() {
  const env = process.env;
  const taskQueue = env.OTA_TASK_QUEUE || 'ota';
  const connection = await Connection.connect({
    address: env.TEMPORAL_ADDRESS || 'localhost:7233',
    connectTimeout: 3000,
  });
  try {
    const res = await connection.withDeadline(Date.now() + 3000, () =>
      connection.workflowService.describeTaskQueue({
        namespace: env.TEMPORAL_NAMESPACE || 'default',
        taskQueue: { name: taskQueue },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      }),
    );
    // The SDK's default worker identity is "<pid>@<hostname>", and the hostname is this container's.
    const mine = (res.pollers || []).filter((p) => (p.identity || '').endsWith(`@${os.hostname()}`));
    const fresh = mine.some((p) => Date.now() - seconds(p.lastAccessTime) * 1000 < MAX_POLL_AGE_MS);
    if (!fresh) throw new Error(`no recent poll on task queue "${taskQueue}" from ${os.hostname()}`);
    process.stdout.write(`worker on ${os.hostname()} polls "${taskQueue}"\n`);
  } finally {
    await connection.close();
  }
}

/** protobuf seconds arrive as a number or a Long. */
function seconds(ts) {
  const s = ts?.seconds;
  if (s === undefined || s === null) return 0;
  return typeof s === 'number' ? s : Number(s.toString());
}

main().catch((err) => {
  process.stderr.write(`unhealthy: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
