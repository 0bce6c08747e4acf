/**
 * The gateway's own Temporal worker: activities only, on the task queue named
 * after the gateway (`ota-gateway-{gatewayId}`), where device workflows send
 * the upgrade commands of the devices whose sessions this gateway holds. It
 * hands each one to the local session directly, with no MQTT hop.
 *
 * Started beside the broker, never before it: devices log in and report
 * while Temporal is still down, and the worker joins (and rejoins after a
 * failure) once Temporal answers.
 */
import { Context } from '@temporalio/activity';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { GatewayActivities } from '../activities/gateway-contracts';
import { gatewayTaskQueue } from '../domain/gateway-queue';
import { retryUntilDone } from '../runtime/dependencies';
import type { Logger } from '../runtime/log';
import type { Gateway } from './gateway';

export interface CommandWorkerDeps {
  gateway: Pick<Gateway, 'gatewayId' | 'deliverUpgradeCommand'>;
  temporalAddress: string;
  namespace: string;
  log: Logger;
}

export interface CommandWorker {
  taskQueue: string;
  stop(): Promise<void>;
}

/** Pause before a worker that failed is started again. */
const RESTART_DELAY_MS = 2_000;

export function createGatewayActivities(gateway: CommandWorkerDeps['gateway']): GatewayActivities {
  return {
    deliverUpgradeCommand: (command) =>
      gateway.deliverUpgradeCommand(command, Context.current().info.workflowExecution?.runId),
  };
}

export function startCommandWorker(deps: CommandWorkerDeps): CommandWorker {
  const { gateway, log } = deps;
  const taskQueue = gatewayTaskQueue(gateway.gatewayId);
  let stopped = false;
  let worker: Worker | undefined;
  let connection: NativeConnection | undefined;

  const runOnce = async () => {
    // Gives up quietly once stopped, so a gateway closing during an outage does not wait for Temporal.
    connection = await retryUntilDone(
      'Temporal (for the gateway worker)',
      () => (stopped ? Promise.resolve(undefined) : NativeConnection.connect({ address: deps.temporalAddress })),
      log,
    );
    if (stopped || !connection) return;
    worker = await Worker.create({
      connection,
      namespace: deps.namespace,
      taskQueue,
      activities: createGatewayActivities(gateway),
      // As many pollers as there are commands waiting, not a fixed ten: a rollout pushes in bursts.
      activityTaskPollerBehavior: { type: 'autoscaling' },
    });
    log.info('gateway worker polling', { taskQueue });
    await worker.run();
  };

  const running = (async () => {
    while (!stopped) {
      try {
        await runOnce();
      } catch (err) {
        log.error('gateway worker stopped: starting it again', { taskQueue, err });
      }
      worker = undefined;
      await connection?.close().catch(() => undefined);
      connection = undefined;
      if (!stopped) await new Promise((r) => setTimeout(r, RESTART_DELAY_MS));
    }
  })();

  return {
    taskQueue,
    async stop() {
      stopped = true;
      if (worker?.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
