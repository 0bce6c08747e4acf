/**
 * /v1/devices: register (one or a batch), list with filters, read, patch,
 * delete. After registrations the orchestration is told once per product, so
 * running increment tasks rescan; a failure there never fails the call.
 */
import { Router, type Request } from 'express';
import type { Db } from 'mongodb';
import type { Device } from '../../domain/types';
import {
  checkBatchItem,
  validateDeviceBatch,
  validateDeviceInput,
  validateDevicePatch,
} from '../../domain/validation/registry';
import {
  deleteDevice,
  insertDevice,
  insertDeviceBatch,
  listDevices,
  newDeviceDoc,
  patchDevice,
  requireDevice,
  type BatchFailure,
  type DeviceDoc,
} from '../../db/devices';
import type { DeviceRef, RegistryEvents } from '../../orchestration/device-events';
import type { Logger } from '../../runtime/log';
import { DEVICE_LIST_PARAMS, parseQuery, parseTagParams } from '../query';

export interface DeviceRoutesContext {
  db: Db;
  log: Logger;
  registryEvents?: RegistryEvents;
  /** Told after a device is deleted, so the gateway ends its session at once. */
  deviceRemoved?: (device: DeviceRef) => Promise<void>;
}

/** Absent values as explicit nulls, so every device answer has the same fields. */
export function deviceResource(d: Device): Record<string, unknown> {
  return { ...d, firmwareVersion: d.firmwareVersion ?? null, lastSeenAt: d.lastSeenAt ?? null };
}

/** How long a registration waits for the orchestration's acknowledgement before answering anyway. */
const NOTIFY_TIMEOUT_MS = 3000;

async function notifyRegistered(ctx: DeviceRoutesContext, products: Iterable<string>): Promise<void> {
  const events = ctx.registryEvents;
  if (!events) return;
  await Promise.all(
    [...products].map(async (productKey) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          events.devicesRegistered(productKey),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer in ${NOTIFY_TIMEOUT_MS} ms`)), NOTIFY_TIMEOUT_MS);
          }),
        ]);
      } catch (err) {
        ctx.log.warn(
          'could not tell the orchestration about new devices; increment tasks catch up on their next scan',
          {
            productKey,
            err,
          },
        );
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

const params = (req: Request): { productKey: string; deviceKey: string } => ({
  productKey: String(req.params.productKey),
  deviceKey: String(req.params.deviceKey),
});

export function devicesRouter(ctx: DeviceRoutesContext): Router {
  const r = Router();

  r.post('/devices', async (req, res) => {
    const device = await insertDevice(ctx.db, validateDeviceInput(req.body));
    await notifyRegistered(ctx, [device.productKey]);
    res.status(201).json({ ...deviceResource(device), deviceSecret: device.deviceSecret });
  });

  // A regular expression: in a string path Express would read ":batch" as a parameter.
  r.post(/^\/devices:batch$/, async (req, res) => {
    const { devices } = validateDeviceBatch(req.body);
    const now = new Date();
    const failed: BatchFailure[] = [];
    const valid: { index: number; doc: DeviceDoc }[] = [];
    devices.forEach((item, index) => {
      const { value, details } = checkBatchItem(item, index);
      if (details.length > 0) {
        failed.push({ index, error: { code: 'invalid_request', message: 'invalid device', details } });
      } else valid.push({ index, doc: newDeviceDoc(value, now) });
    });
    const result = await insertDeviceBatch(ctx.db, valid);
    await notifyRegistered(ctx, result.createdProducts);
    failed.push(...result.failed);
    failed.sort((a, b) => a.index - b.index);
    res.status(200).json({ created: result.created, failed });
  });

  r.get('/devices', async (req, res) => {
    const q = parseQuery<{
      productKey?: string;
      version?: string;
      tag?: string[];
      online?: boolean;
      limit: number;
      cursor?: string;
    }>(req, DEVICE_LIST_PARAMS);
    const page = await listDevices(ctx.db, { ...q, tags: parseTagParams(q.tag) });
    res.json({ items: page.items.map(deviceResource), nextCursor: page.nextCursor });
  });

  r.get('/devices/:productKey/:deviceKey', async (req, res) => {
    const { productKey, deviceKey } = params(req);
    res.json(deviceResource(await requireDevice(ctx.db, productKey, deviceKey)));
  });

  r.patch('/devices/:productKey/:deviceKey', async (req, res) => {
    const { productKey, deviceKey } = params(req);
    const patch = validateDevicePatch(req.body);
    res.json(deviceResource(await patchDevice(ctx.db, productKey, deviceKey, patch)));
  });

  r.delete('/devices/:productKey/:deviceKey', async (req, res) => {
    const { productKey, deviceKey } = params(req);
    res.json(deviceResource(await deleteDevice(ctx.db, productKey, deviceKey)));
    void ctx.deviceRemoved?.({ productKey, deviceKey });
  });

  return r;
}
