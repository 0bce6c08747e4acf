/**
 * The orchestration side of the gateway: device events become Temporal
 * signals to the device's upgrade workflow (its id is derived from the device,
 * no lookup) and "rescan" hints to the tasks that may care; a firmware request
 * becomes an update-with-start on the device workflow, whose answer is the
 * offer or a refusal.
 *
 * Why update-with-start on the device workflow rather than an update on the
 * task: the device id makes "one upgrade per device" atomic (a device busy in
 * another task refuses through the same id), the update's answer is the offer
 * itself, and a task workflow never receives one update per device (a run
 * takes at most 2,000 updates, 10 in flight).
 */
import { WithStartWorkflowOperation, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import type { Db } from 'mongodb';
import { byIdentity, devices } from '../db/devices';
import { offerSlotsFull } from '../db/offer-slots';
import { recordId, recordsCollection, tasksWaitingFor } from '../db/records';
import { activeIncrementTasks, activeRequestTasks, activeTaskIds, type TaskDoc } from '../db/tasks';
import { isDeviceInScope } from '../db/scope';
import { admissionOf, type Admission } from '../domain/admission';
import { deviceWorkflowId, taskWorkflowId } from '../domain/ids';
import { judge, newsAfterSuccess } from '../domain/progress';
import { isWindowOpen } from '../domain/schedule';
import { clipForSignal, replyForSignal } from '../domain/signal-text';
import type { FirmwareOffer } from '../domain/types';
import type { Logger } from '../runtime/log';
import type { deviceUpgradeWorkflow } from '../workflows/device-upgrade';
import {
  devicePresence,
  deviceProgress,
  deviceUpgradeReply,
  devicesAdded,
  devicesReady,
  devicesReported,
  deviceVersion,
  type ReportedDevice,
  requestFirmware,
} from '../workflows/messages';
import { batchPerKey, coalesce } from './coalesce';
import { signalIfRunning } from './signal-if-running';
import type { DeviceEvents, DeviceRef, RegistryEvents } from './device-events';
import { deviceStartOptions } from './device-workflows';

export interface TemporalDeviceEventsDeps {
  client: Client;
  db: Db;
  taskQueue: string;
  log: Logger;
}

const HINT_WINDOW_MS = 500;

/** The run that last sent a device a command, what to, and whether it has heard the device succeed. */
interface CommandRun {
  runId: string;
  targetVersion: string;
  succeeded: boolean;
}
/**
 * A device event's signal fails after this long rather than after the client's own retries (about half a
 * minute against a Temporal that is down): the gateway then retries it and keeps it in its outbox.
 */
const SIGNAL_DEADLINE_MS = 3_000;
/** Runs remembered for the devices that took a command here (about 100 bytes each). */
const MAX_COMMAND_RUNS = 100_000;

export function createTemporalDeviceEvents(deps: TemporalDeviceEventsDeps): Required<DeviceEvents> & RegistryEvents {
  const { client, db, taskQueue, log } = deps;

  /** Device workflow id → the run that last sent the device a command; the oldest are forgotten first. */
  const commandRuns = new Map<string, CommandRun>();
  const signalDevice = async <T>(device: DeviceRef, signal: SignalDefinition<[T]>, arg: T) => {
    const workflowId = deviceWorkflowId(device);
    const runId = commandRuns.get(workflowId)?.runId;
    await client.connection.withDeadline(Date.now() + SIGNAL_DEADLINE_MS, async () => {
      // Addressed to its run, a signal spares the server a read of which run is current.
      if (runId && (await signalIfRunning(client.workflow.getHandle(workflowId, runId), signal, arg))) return;
      // That run has ended (its upgrade is over, or it continued as new): whichever run is current now.
      if (runId) commandRuns.delete(workflowId);
      await signalIfRunning(client.workflow.getHandle(workflowId), signal, arg);
    });
  };
  const hintTask = (signalName: string) =>
    coalesce(async (taskId) => {
      await signalIfRunning(client.workflow.getHandle(taskWorkflowId(taskId)), signalName).catch((err: unknown) =>
        log.warn('task hint failed', { taskId, signal: signalName, err }),
      );
    }, HINT_WINDOW_MS);
  const readyHint = hintTask(devicesReady.name);
  const addedHint = hintTask(devicesAdded.name);

  const reported = batchPerKey<ReportedDevice>(async (taskId, devices) => {
    await signalIfRunning(client.workflow.getHandle(taskWorkflowId(taskId)), devicesReported, { devices }).catch(
      (err: unknown) => log.warn('reported devices not delivered', { taskId, err }),
    );
  }, HINT_WINDOW_MS);

  const hintIncrementTasks = async (productKey: string) => {
    for (const task of await activeIncrementTasks(db, productKey)) addedHint(task.taskId);
  };

  return {
    async connected(device, sessionSince) {
      const active = await activeTaskIds(db, device.productKey);
      for (const taskId of await tasksWaitingFor(db, active, device.deviceKey)) readyHint(taskId);
      await signalDevice(device, devicePresence, { online: true, ...(sessionSince !== undefined && { sessionSince }) });
    },
    async disconnected(device, reason) {
      await signalDevice(device, devicePresence, { online: false, reason });
    },
    async versionReported(device, version) {
      // Once its run heard the device succeed, the target version is no news: a signal then would
      // only come while that run completes, and the server would refuse its end for it.
      const run = commandRuns.get(deviceWorkflowId(device));
      const heard = run?.succeeded === true && !newsAfterSuccess(run.targetVersion, { kind: 'version', version });
      if (!heard) await signalDevice(device, deviceVersion, { version });
      // The device itself joins the increment tasks it now qualifies for: no time cursor to miss it by.
      const reportedAt = new Date();
      for (const task of await activeIncrementTasks(db, device.productKey)) {
        if (!task.sourceVersions.includes(version)) continue;
        const admission = await admissionFor(db, task, device, reportedAt);
        if (admission === 'waiting') readyHint(task.taskId);
        if (admission === 'joins')
          reported(task.taskId, { deviceKey: device.deviceKey, version, reportedAtMs: +reportedAt });
      }
    },
    async progressReported(device, step, desc) {
      await signalDevice(device, deviceProgress, { step, desc: clipForSignal(desc) });
      const run = commandRuns.get(deviceWorkflowId(device));
      const report = { kind: 'progress', step, desc } as const;
      if (run && judge({ targetVersion: run.targetVersion, started: true }, report).kind === 'success') {
        run.succeeded = true;
      }
    },
    async upgradeReplied(device, commandId, code, message) {
      await signalDevice(device, deviceUpgradeReply, replyForSignal({ commandId, code, message }));
    },
    commandDelivered(device, runId, targetVersion) {
      const workflowId = deviceWorkflowId(device);
      commandRuns.delete(workflowId);
      commandRuns.set(workflowId, { runId, targetVersion, succeeded: false });
      if (commandRuns.size > MAX_COMMAND_RUNS) commandRuns.delete(commandRuns.keys().next().value as string);
    },
    async firmwareRequested(device) {
      for (const task of await activeRequestTasks(db, device.productKey)) {
        if (task.status !== 'running' || !isWindowOpen(task.schedule, Date.now())) continue;
        const admission = await admissionFor(db, task, device);
        if (admission === 'closed') continue;
        // A joining device is admitted by its workflow's claim; the gateway only looked.
        if (admission === 'joins' && !(await qualifies(db, task, device))) continue;
        // A look before starting a workflow that would only be refused again: the claim takes the slot for real,
        // and a refused one records why the device waits.
        const rec = await recordsCollection(db).findOne(
          { _id: recordId(task.taskId, device.deviceKey) },
          { projection: { waitReason: 1 } },
        );
        if (
          rec?.waitReason === 'concurrency_limit' &&
          (await offerSlotsFull(db, task.taskId, device.deviceKey, task.maxConcurrency))
        ) {
          continue;
        }
        const offer = await offerThroughDeviceWorkflow(client, task, device, taskQueue);
        if (offer) return offer;
      }
      return [];
    },
    async devicesRegistered(productKey) {
      await hintIncrementTasks(productKey);
    },
  };
}

/** What admission makes of the device in this task now (domain/admission.ts): a read, never a write. */
async function admissionFor(db: Db, task: TaskDoc, device: DeviceRef, reportedAt?: Date): Promise<Admission> {
  const rec = await recordsCollection(db).findOne(
    { _id: recordId(task.taskId, device.deviceKey) },
    { projection: { status: 1, inWorkflow: 1, updatedAt: 1 } },
  );
  return admissionOf(rec, task, reportedAt);
}

/** The device is in the task's scope on the version the registry has for it. */
async function qualifies(db: Db, task: TaskDoc, device: DeviceRef): Promise<boolean> {
  const doc = await devices(db).findOne(byIdentity(device), { projection: { _id: 0, deviceSecret: 0 } });
  if (!doc) return false;
  const spec = {
    productKey: task.productKey,
    sourceVersions: task.sourceVersions,
    scope: task.scope,
    filter: task.filter,
  };
  return isDeviceInScope(db, spec, doc);
}

async function offerThroughDeviceWorkflow(
  client: Client,
  task: TaskDoc,
  device: DeviceRef,
  taskQueue: string,
): Promise<FirmwareOffer[] | null> {
  const start = new WithStartWorkflowOperation<typeof deviceUpgradeWorkflow>('deviceUpgradeWorkflow', {
    ...deviceStartOptions(task, device.deviceKey, taskQueue),
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  try {
    return await client.workflow.executeUpdateWithStart(requestFirmware, {
      args: [{ taskId: task.taskId }],
      startWorkflowOperation: start,
    });
  } catch (err) {
    // Refused: busy in another task, no offer open, or the task at its concurrency limit. The device hears "nothing for you".
    if (err instanceof WorkflowUpdateFailedError) return null;
    throw err;
  }
}
