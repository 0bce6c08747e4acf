/**
 * GET /v1/products/{productKey}/versions on the API as the server wires it,
 * against the suite's real database: devices registered through the API,
 * presence written where the gateway writes it, and records as the task
 * workflows leave them.
 */
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { recordId, recordsCollection, type RecordDoc } from '../../db/records';
import { devices, deviceDocId } from '../../db/devices';
import type { RecordStatus } from '../../domain/types';
import { detailPaths, startRegistryApi, type RegistryApi } from './api-harness';

let api: RegistryApi;
const PK = 'fleet-pk';

/** A record of `deviceKey` in `taskId`, as the workflows write it. */
function record(taskId: string, deviceKey: string, status: RecordStatus, fromVersion: string | null): RecordDoc {
  const at = new Date();
  return {
    _id: recordId(taskId, deviceKey),
    taskId,
    productKey: PK,
    deviceKey,
    fromVersion,
    toVersion: '2.0.0',
    status,
    waitReason: null,
    progress: 0,
    failure: null,
    skipReason: null,
    attempts: 1,
    timeline: [],
    inWorkflow: status === 'pushed' || status === 'upgrading',
    createdAt: at,
    updatedAt: at,
  };
}

beforeAll(async () => {
  api = await startRegistryApi('reg_fleet');
  const fleet: [deviceKey: string, version: string | undefined, online: boolean][] = [
    ['a1', '1.9.0', true],
    ['a2', '1.9.0', true],
    ['a3', '1.9.0', false],
    ['b1', '1.10.0', true],
    ['b2', '1.10.0', false],
    ['c1', '1.2.0', false],
    ['n1', undefined, false],
    ['n2', undefined, true],
  ];
  const created = await api.call('POST', '/v1/devices:batch', {
    devices: [
      ...fleet.map(([deviceKey, firmwareVersion]) => ({ productKey: PK, deviceKey, firmwareVersion })),
      { productKey: 'other-pk', deviceKey: 'a1', firmwareVersion: '1.9.0' },
    ],
  });
  expect(created.body).toMatchObject({ created: fleet.length + 1, failed: [] });
  // Presence is the gateway's to write: set it where the gateway does.
  for (const [deviceKey, , online] of fleet) {
    await devices(api.db).updateOne({ _id: deviceDocId(PK, deviceKey) }, { $set: { online } });
  }
  await devices(api.db).updateOne({ _id: deviceDocId('other-pk', 'a1') }, { $set: { online: true } });

  await recordsCollection(api.db).insertMany([
    record('t1', 'a1', 'pushed', '1.9.0'),
    record('t1', 'a3', 'upgrading', '1.9.0'),
    record('t2', 'a3', 'pushed', '1.9.0'), // the same device in a second task: counted once
    record('t1', 'b1', 'success', '1.10.0'), // finished: not active
    record('t1', 'b2', 'to_be_pushed', '1.10.0'), // waiting, no command yet: not active
    record('t1', 'n2', 'upgrading', null),
    record('t1', 'gone', 'upgrading', '1.2.0'), // its device was deleted from the registry
    { ...record('t3', 'a2', 'upgrading', '1.9.0'), productKey: 'other-pk' },
  ]);
});
afterAll(() => api.close());

describe('GET /v1/products/{productKey}/versions', () => {
  it('counts devices per reported version, online and offline, and those in an active upgrade', async () => {
    const res = await api.call('GET', `/v1/products/${PK}/versions`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      productKey: PK,
      total: 8,
      online: 4,
      upgrading: 3,
      versions: [
        { version: '1.10.0', total: 2, online: 1, offline: 1, upgrading: 0 },
        { version: '1.9.0', total: 3, online: 2, offline: 1, upgrading: 2 },
        { version: '1.2.0', total: 1, online: 0, offline: 1, upgrading: 0 },
        { version: null, total: 2, online: 1, offline: 1, upgrading: 1 },
      ],
    });
  });

  it('follows the registry: a device that reports a new version moves to it', async () => {
    await devices(api.db).updateOne({ _id: deviceDocId(PK, 'c1') }, { $set: { firmwareVersion: '1.10.0' } });
    try {
      const res = await api.call('GET', `/v1/products/${PK}/versions`);
      expect((res.body.versions as { version: string | null }[]).map((v) => v.version)).toEqual([
        '1.10.0',
        '1.9.0',
        null,
      ]);
      expect(res.body.versions).toContainEqual({ version: '1.10.0', total: 3, online: 1, offline: 2, upgrading: 0 });
    } finally {
      await devices(api.db).updateOne({ _id: deviceDocId(PK, 'c1') }, { $set: { firmwareVersion: '1.2.0' } });
    }
  });

  it('answers empty counts for a product without devices', async () => {
    const res = await api.call('GET', '/v1/products/no-devices-here/versions');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ productKey: 'no-devices-here', total: 0, online: 0, upgrading: 0, versions: [] });
  });

  it('refuses a malformed productKey or any query parameter with a 400', async () => {
    const bad = await api.call('GET', `/v1/products/${'p'.repeat(65)}/versions`);
    expect([bad.status, detailPaths(bad)]).toEqual([400, ['params.productKey']]);
    const spaced = await api.call('GET', '/v1/products/has%20space/versions');
    expect([spaced.status, detailPaths(spaced)]).toEqual([400, ['params.productKey']]);
    const typo = await api.call('GET', `/v1/products/${PK}/versions?online=true`);
    expect(typo.status).toBe(400);
    expect(typo.body.error?.code).toBe('invalid_request');
  });

  it('is declared in the OpenAPI document, and its answer matches the declared schema', async () => {
    const doc = (await api.call('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths['/v1/products/{productKey}/versions']?.get?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400']),
    );
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: 'urn:ota:openapi-doc', components: doc.components });
    const validate = ajv.getSchema('urn:ota:openapi-doc#/components/schemas/FleetVersions');
    const body = (await api.call('GET', `/v1/products/${PK}/versions`)).body;
    expect([validate?.(body), validate?.errors ?? null]).toEqual([true, null]);
    expect(validate?.({ ...body, versions: [{ version: 1 }] })).toBe(false);
  });
});
