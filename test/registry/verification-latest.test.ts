/**
 * GET /v1/firmwares/{id}/verification shows the latest verification by
 * creation time. Task ids do not sort by time: one created with an
 * Idempotency-Key is a hash.
 */
import { newTaskId } from '../../orchestration/task-service';
import { firmwareBody, startRegistryApi, type RegistryApi } from './api-harness';

let api: RegistryApi;
beforeAll(async () => {
  api = await startRegistryApi('reg_verification_latest');
});
afterAll(() => api.close());

/** A verification as the verification route stores it. */
const verification = (taskId: string, firmwareId: string, status: string, createdAt: Date) => ({
  taskId,
  workflowId: taskId,
  kind: 'verification',
  name: 'Verify',
  firmwareId,
  productKey: 'pk1',
  firmware: { version: '2.0.0' },
  sourceVersions: ['1.0.0'],
  strategy: 'snapshot',
  scope: 'target',
  filter: { deviceKeys: ['d1'] },
  method: 'push',
  upgradeTimeout: 7200,
  maxConcurrency: 1,
  status,
  createdAt,
  updatedAt: createdAt,
});

describe('GET /v1/firmwares/{firmwareId}/verification', () => {
  it('answers the most recently created verification, whatever its id', async () => {
    const fw = await api.call('POST', '/v1/firmwares', firmwareBody());
    const firmwareId = String(fw.body.firmwareId);
    // Ordered so that the newer one has the smaller id.
    const [older, newer] = [newTaskId('verify', 'zz-key'), newTaskId('verify', 'key-b')].sort().reverse();
    expect(newer < older).toBe(true);
    await api.db
      .collection('tasks')
      .insertMany([
        verification(older, firmwareId, 'completed', new Date(Date.now() - 60_000)),
        verification(newer, firmwareId, 'running', new Date()),
      ]);
    const res = await api.call('GET', `/v1/firmwares/${firmwareId}/verification`);
    expect(res).toMatchObject({ status: 200, body: { verificationId: newer, status: 'running' } });
  });
});
