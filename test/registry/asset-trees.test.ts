/** Asset trees over HTTP: the EnOS node model, with structure and device checks. */
import { detailPaths, startRegistryApi, type RegistryApi } from './api-harness';

let api: RegistryApi;
beforeAll(async () => {
  api = await startRegistryApi('reg_trees');
  const devices = ['d1', 'd2', 'd3'].map((deviceKey) => ({ productKey: 'pk1', deviceKey }));
  await api.call('POST', '/v1/devices:batch', { devices });
});
afterAll(() => api.close());
beforeEach(() => api.db.collection('asset_trees').deleteMany({}));

const trees = (): Promise<number> => api.db.collection('asset_trees').countDocuments({});

const plant = [
  { nodeId: 'site', parentId: null, name: 'Plant' },
  { nodeId: 'hall', parentId: 'site' },
  { nodeId: 'pump', parentId: 'hall', productKey: 'pk1', deviceKey: 'd1' },
  { nodeId: 'gw', parentId: 'site', productKey: 'pk1', deviceKey: 'd2' },
];

const STATUS_OF: Record<string, number> = {
  'a cycle': 422,
  'a node that is its own parent': 422,
  'an unknown parent': 422,
  'a duplicate node id': 422,
  'a device that is not registered': 409,
  'a device placed twice': 422,
  'a device node without its productKey': 400,
  'a node without parentId': 400,
  'an unknown node field': 400,
};

describe('PUT/GET /v1/asset-trees/{treeId}', () => {
  it('stores a tree, reads it back and replaces it whole', async () => {
    const put = await api.call('PUT', '/v1/asset-trees/plant-1', { nodes: plant });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ treeId: 'plant-1', nodes: plant });
    expect((await api.call('GET', '/v1/asset-trees/plant-1')).body).toEqual(put.body);

    const smaller = [{ nodeId: 'root', parentId: null, productKey: 'pk1', deviceKey: 'd3' }];
    await api.call('PUT', '/v1/asset-trees/plant-1', { nodes: smaller });
    expect((await api.call('GET', '/v1/asset-trees/plant-1')).body.nodes).toEqual(smaller);
    expect(await trees()).toBe(1);
  });

  it('answers 404 for an unknown tree', async () => {
    const res = await api.call('GET', '/v1/asset-trees/nope');
    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe('not_found');
  });

  it.each([
    [
      'a cycle',
      [
        { nodeId: 'r', parentId: null },
        { nodeId: 'a', parentId: 'b' },
        { nodeId: 'b', parentId: 'a' },
        { nodeId: 'c', parentId: 'b' },
      ],
      ['/nodes/1/parentId', '/nodes/2/parentId', '/nodes/3/parentId'],
    ],
    ['a node that is its own parent', [{ nodeId: 'a', parentId: 'a' }], ['/nodes/0/parentId']],
    [
      'an unknown parent',
      [
        { nodeId: 'r', parentId: null },
        { nodeId: 'a', parentId: 'ghost' },
      ],
      ['/nodes/1/parentId'],
    ],
    [
      'a duplicate node id',
      [
        { nodeId: 'r', parentId: null },
        { nodeId: 'r', parentId: null },
      ],
      ['/nodes/1/nodeId'],
    ],
    [
      'a device that is not registered',
      [
        { nodeId: 'r', parentId: null },
        { nodeId: 'x', parentId: 'r', productKey: 'pk1', deviceKey: 'ghost' },
      ],
      ['/nodes/1/deviceKey'],
    ],
    [
      'a device placed twice',
      [
        { nodeId: 'r', parentId: null, productKey: 'pk1', deviceKey: 'd1' },
        { nodeId: 'x', parentId: 'r', productKey: 'pk1', deviceKey: 'd1' },
      ],
      ['/nodes/1/deviceKey'],
    ],
    [
      'a device node without its productKey',
      [{ nodeId: 'r', parentId: null, deviceKey: 'd1' }],
      ['/nodes/0/productKey'],
    ],
    ['a node without parentId', [{ nodeId: 'r' }], ['/nodes/0/parentId']],
    ['an unknown node field', [{ nodeId: 'r', parentId: null, colour: 'red' }], ['/nodes/0/colour']],
  ])('rejects %s with the path of each offending node and stores nothing', async (what, nodes, paths) => {
    const res = await api.call('PUT', '/v1/asset-trees/t1', { nodes });
    // 400: not the schema; 422: fits the schema but not a tree; 409: a tree, of devices not registered.
    expect([what, res.status]).toEqual([what, STATUS_OF[what]]);
    expect(detailPaths(res)).toEqual(paths);
    expect(await trees()).toBe(0);
  });

  it('rejects an unsafe tree id and an empty node list', async () => {
    const badId = await api.call('PUT', '/v1/asset-trees/a$b', { nodes: plant });
    expect(detailPaths(badId)).toEqual(['params.treeId']);
    const empty = await api.call('PUT', '/v1/asset-trees/t1', { nodes: [] });
    expect(detailPaths(empty)).toEqual(['/nodes']);
    expect(await trees()).toBe(0);
  });
});
