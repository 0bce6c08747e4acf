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
import {
  insertWaitingRecords,
  markWaitingRecordsPresence,
  noteWaitReason,
  recordId,
  readmitRecord,
  recordsCollection,
} from '../db/records';
import { activeIncrementTasks, activeRequestTasks, activeTaskIds, type TaskDoc } from '../db/tasks';
import { isDeviceInScope } from '../db/scope';
import { deviceWorkflowId, taskWorkflowId } from '../domain/ids';
import { isWindowOpen } from '../domain/schedule';
import type { FirmwareOffer } from '../domain/types';
import type { Logger } from '../runtime/log';
import type { deviceUpgradeWorkflow } from '../workflows/device-upgrade';
import {
  devicePresence,
  deviceProgress,
  deviceUpgradeReply,
  devicesAdded,
  devicesReady,
  deviceVersion,
  requestFirmware,
} from '../workflows/messages';
import { coalesce } from './coalesce';
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

export function createTemporalDeviceEvents(deps: TemporalDeviceEventsDeps): DeviceEvents & RegistryEvents {
  const { client, db, taskQueue, log } = deps;

  const signalDevice = async <T>(device: DeviceRef, signal: SignalDefinition<[T]>, arg: T) => {
    await signalIfRunning(client.workflow.getHandle(deviceWorkflowId(device)), signal, arg);
  };
  const hintTask = (signalName: string) =>
    coalesce(async (taskId) => {
      await signalIfRunning(client.workflow.getHandle(taskWorkflowId(taskId)), signalName).catch((err: unknown) =>
        log.warn('task hint failed', { taskId, signal: signalName, err }),
      );
    }, HINT_WINDOW_MS);
  const readyHint = hintTask(devicesReady.name);
  const addedHint = hintTask(devicesAdded.name);

  const hintIncrementTasks = async (productKey: string) => {
    for (const task of await activeIncrementTasks(db, productKey)) addedHint(task.taskId);
  };

  return {
    async connected(device) {
      const active = await activeTaskIds(db, device.productKey);
      for (const taskId of await markWaitingRecordsPresence(db, active, device.deviceKey, true)) readyHint(taskId);
      await signalDevice(device, devicePresence, { online: true });
    },
    async disconnected(device, reason) {
      await markWaitingRecordsPresence(db, await activeTaskIds(db, device.productKey), device.deviceKey, false);
      await signalDevice(device, devicePresence, { online: false, reason });
    },
    async versionReported(device, version) {
      await signalDevice(device, deviceVersion, { version });
      // The device itself joins the increment tasks it now qualifies for: no time cursor to miss it by.
      for (const task of await activeIncrementTasks(db, device.productKey)) {
        if (!task.sourceVersions.includes(version)) continue;
        if (await admitDevice(db, task, device, version)) readyHint(task.taskId);
      }
    },
    async progressReported(device, step, desc) {
      await signalDevice(device, deviceProgress, { step, desc });
    },
    async upgradeReplied(device, commandId, code, message) {
      await signalDevice(device, deviceUpgradeReply, { commandId, code, message });
    },
    async firmwareRequested(device) {
      for (const task of await activeRequestTasks(db, device.productKey)) {
        if (task.status !== 'running' || !isWindowOpen(task.schedule, Date.now())) continue;
        if (!(await admitDevice(db, task, device))) continue;
        // A look before starting a workflow that would only be refused; the claim takes the slot for real.
        if (await offerSlotsFull(db, task.taskId, device.deviceKey, task.maxConcurrency)) {
          await noteWaitReason(db, task.taskId, device.deviceKey, 'concurrency_limit');
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

/**
 * Makes sure the device waits in this increment task when it qualifies now:
 * a new waiting record, or a skipped (busy) or succeeded one re-admitted
 * after the device reported a source version again (SPEC behaviour 1). The
 * reported version is taken from the event, not from the registry, whose
 * write may still be queued; and the device is online, since it is talking
 * to us right now (the registry's copy may lag). Returns whether the device
 * now waits in the task (or, asking for firmware, holds an open offer in it).
 */
async function admitDevice(db: Db, task: TaskDoc, device: DeviceRef, reportedVersion?: string): Promise<boolean> {
  const rec = await recordsCollection(db).findOne({ _id: recordId(task.taskId, device.deviceKey) });
  if (rec?.status === 'to_be_pushed') return true;
  // Offered already: asking again (a lost reply) hears the same offer while it is open.
  if (rec?.status === 'pushed' && rec.inWorkflow && !reportedVersion) return true;
  if (task.strategy !== 'increment') return false;
  if (rec && !(reportedVersion && (rec.status === 'skipped' || rec.status === 'success'))) return false;
  const doc = await devices(db).findOne(byIdentity(device), { projection: { _id: 0, deviceSecret: 0 } });
  if (!doc) return false;
  const version = reportedVersion ?? doc.firmwareVersion;
  const spec = {
    productKey: task.productKey,
    sourceVersions: task.sourceVersions,
    scope: task.scope,
    filter: task.filter,
  };
  if (!(await isDeviceInScope(db, spec, { ...doc, firmwareVersion: version }))) return false;
  const now = new Date();
  if (rec) {
    const seen = { version: version ?? null, online: true };
    return readmitRecord(db, task.taskId, device.deviceKey, (r) => r.status === rec.status, seen, now);
  }
  await insertWaitingRecords(
    db,
    [
      {
        taskId: task.taskId,
        productKey: task.productKey,
        deviceKey: device.deviceKey,
        fromVersion: version ?? null,
        toVersion: task.firmware.version,
        deviceOnline: true,
      },
    ],
    now,
  );
  return true;
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
