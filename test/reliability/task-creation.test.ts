/**
 * Creating a task is idempotent and final, and operator calls say why they
 * cannot act, on the real stack. "Temporal down" is a second API on the same
 * database whose Temporal address has nothing listening: the outage a client
 * sees, not a stub.
 */
import * as http from 'node:http';
import { Connection } from '@temporalio/client';
import { createApiApp } from '../../api/routes';
import { setFirmwareVerified } from '../../db/firmware';
import { isStartPending } from '../../db/pending-task-starts';
import { recordId, recordsCollection, type RecordDoc } from '../../db/records';
import { tasksCollection } from '../../db/tasks';
import { startTaskReconciler } from '../../orchestration/task-reconciler';
import { silentLogger } from '../../runtime/log';
import { freePort } from '../../runtime/net';
import { eventually } from '../helpers/eventually';
import { startServiceStack, type ServiceStack } from '../helpers/service-stack';

const PK = 'tc-pk';
let stack: ServiceStack;
let firmwareId = '';
let deadTemporal: Connection;
let deadServer: http.Server;
let deadUrl = '';

type Answer<T = unknown> = { status: number; body: T };
interface TaskBody {
  taskId: string;
  status: string;
}
interface ErrorAnswer {
  error: { code: string; message: string };
}

async function call<T>(
  base: string,
  method: string,
  route: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

const incrementTask = () => ({
  firmwareId,
  sourceVersions: ['1.0.0'],
  strategy: 'increment',
  scope: 'target',
  filter: { deviceKeys: ['tc-1'] },
  method: 'push',
});

/** A device record as a device workflow leaves it after pushing, for the device-cancel route. */
async function pushedRecord(taskId: string): Promise<void> {
  const now = new Date();
  await recordsCollection(stack.db.db).insertOne({
    _id: recordId(taskId, 'tc-1'),
    taskId,
    productKey: PK,
    deviceKey: 'tc-1',
    status: 'pushed',
    inWorkflow: true,
    deviceOnline: true,
    createdAt: now,
    updatedAt: now,
  } as unknown as RecordDoc);
}

beforeAll(async () => {
  stack = await startServiceStack('task_creation');
  await stack.startWorker();
  await stack.api('POST', '/v1/devices:batch', { devices: [{ productKey: PK, deviceKey: 'tc-1' }] });
  const fw = await stack.api<{ firmwareId: string }>('POST', '/v1/firmwares', {
    productKey: PK,
    version: '2.0.0',
    fileUrl: '/files/tc-2.0.0',
    fileSize: 4096,
    signMethod: 'md5',
    sign: '9E107D9D372BB6826BD81D3542A419D6',
  });
  firmwareId = fw.body.firmwareId;
  // Verification is not what this file tests: mark it verified as a finished verification would.
  await setFirmwareVerified(stack.db.db, firmwareId);

  deadTemporal = Connection.lazy({ address: `127.0.0.1:${await freePort()}` });
  const app = await createApiApp({
    config: stack.config,
    db: stack.db.db,
    temporal: deadTemporal,
    log: silentLogger,
  });
  deadServer = http.createServer(app);
  await new Promise<void>((resolve) => deadServer.listen(0, '127.0.0.1', resolve));
  deadUrl = `http://127.0.0.1:${(deadServer.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => deadServer?.close(() => resolve()));
  await deadTemporal?.close();
  await stack?.stop();
});

describe('task creation', () => {
  it('returns a cancelled task as it is to a retry with its Idempotency-Key, starting no new run', async () => {
    const key = { 'idempotency-key': `tc-cancel-${Date.now()}` };
    const first = await call<TaskBody>(stack.apiUrl, 'POST', '/v1/upgrade-tasks', incrementTask(), key);
    expect(first.status).toBe(201);
    const { taskId } = first.body;
    const handle = stack.client.workflow.getHandle(taskId);
    const firstRun = (await handle.describe()).runId;
    expect((await stack.api('POST', `/v1/upgrade-tasks/${taskId}/cancel`)).status).toBe(202);
    await eventually(
      'the task to be cancelled',
      () => stack.api<TaskBody>('GET', `/v1/upgrade-tasks/${taskId}`),
      (r) => r.body.status === 'cancelled',
      60_000,
      200,
    );
    await eventually(
      'its workflow to close',
      async () => (await handle.describe()).status.name,
      (s) => s !== 'RUNNING',
      60_000,
      200,
    );

    const again = await call<TaskBody>(stack.apiUrl, 'POST', '/v1/upgrade-tasks', incrementTask(), key);
    expect(again).toMatchObject({ status: 200, body: { taskId, status: 'cancelled' } });
    const latest = await handle.describe();
    expect(latest.runId).toBe(firstRun);
    expect(latest.status.name).not.toBe('RUNNING');
  });

  it('keeps a task created while Temporal is down, and the reconciler starts its workflow', async () => {
    const created = await call<TaskBody>(deadUrl, 'POST', '/v1/upgrade-tasks', incrementTask());
    expect(created.status).toBe(201);
    const { taskId } = created.body;
    expect(await isStartPending(stack.db.db, taskId)).toBe(true);

    // Every operator call says why it cannot act, and changes nothing.
    for (const route of ['cancel', 'pause', 'resume', 'retry']) {
      const res = await call<ErrorAnswer>(deadUrl, 'POST', `/v1/upgrade-tasks/${taskId}/${route}`, {});
      expect(res).toMatchObject({ status: 503, body: { error: { code: 'unavailable' } } });
      expect(res.body.error.message).toMatch(/Temporal/);
    }
    await pushedRecord(taskId);
    const device = await call<ErrorAnswer>(deadUrl, 'POST', `/v1/upgrade-tasks/${taskId}/devices/tc-1/cancel`);
    expect(device).toMatchObject({ status: 503, body: { error: { code: 'unavailable' } } });
    expect((await stack.api<TaskBody>('GET', `/v1/upgrade-tasks/${taskId}`)).body.status).toBe('waiting');
    await recordsCollection(stack.db.db).deleteOne({ _id: recordId(taskId, 'tc-1') });

    // As the API runs it: a first pass at once, then periodically.
    const reconciler = startTaskReconciler(
      { db: stack.db.db, client: stack.client, taskQueue: stack.config.temporalTaskQueue, log: silentLogger },
      500,
    );
    try {
      await eventually(
        'the reconciler to start the workflow',
        () => isStartPending(stack.db.db, taskId),
        (p) => !p,
        60_000,
        200,
      );
    } finally {
      reconciler.stop();
    }
    expect(await isStartPending(stack.db.db, taskId)).toBe(false);
    expect((await stack.client.workflow.getHandle(taskId).describe()).status.name).toBe('RUNNING');
    await eventually(
      'the task to run',
      () => stack.api<TaskBody>('GET', `/v1/upgrade-tasks/${taskId}`),
      (r) => r.body.status === 'running',
      60_000,
      200,
    );
    expect((await stack.api('POST', `/v1/upgrade-tasks/${taskId}/cancel`)).status).toBe(202);
  });

  it('answers 409 with a reason, not 500, when a task has no workflow at all', async () => {
    const created = await stack.api<TaskBody>('POST', '/v1/upgrade-tasks', incrementTask());
    const stored = await tasksCollection(stack.db.db).findOne(
      { taskId: created.body.taskId },
      { projection: { _id: 0 } },
    );
    if (!stored) throw new Error('the task was not stored');
    const orphan = { ...stored };
    // A task document Temporal never heard of (as a crash before the start marker existed would leave).
    orphan.taskId = `${orphan.taskId}-orphan`;
    orphan.workflowId = orphan.taskId;
    await tasksCollection(stack.db.db).insertOne(orphan);
    for (const route of ['cancel', 'pause', 'resume', 'retry']) {
      const res = await stack.api<ErrorAnswer>('POST', `/v1/upgrade-tasks/${orphan.taskId}/${route}`, {});
      expect(res).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
      expect(res.body.error.message).toMatch(/no running workflow/);
    }
    await pushedRecord(orphan.taskId);
    const device = await stack.api<ErrorAnswer>('POST', `/v1/upgrade-tasks/${orphan.taskId}/devices/tc-1/cancel`);
    expect(device).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    expect(device.body.error.message).toMatch(/no upgrade in progress/);
  });
});

describe('with no worker', () => {
  // Last in this file: it stops the stack's worker.
  it('answers an operator retry with 503 and the reason when no worker answers the task in time', async () => {
    const created = await call<TaskBody>(stack.apiUrl, 'POST', '/v1/upgrade-tasks', incrementTask());
    expect(created.status).toBe(201);
    await stack.killWorker();
    const res = await call<ErrorAnswer>(stack.apiUrl, 'POST', `/v1/upgrade-tasks/${created.body.taskId}/retry`, {});
    expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 503, code: 'unavailable' });
    expect(res.body.error.message).toMatch(/worker/);
  });
});
