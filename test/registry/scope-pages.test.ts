/**
 * Scope resolution against the real database: the MongoDB query agrees with
 * the pure rule, pages are resumable from a plain string cursor, and key lists
 * longer than one query chunk are walked correctly.
 */
import type { Db } from 'mongodb';
import { putAssetTree } from '../../db/asset-trees';
import { devices as deviceCollection, newDeviceDoc } from '../../db/devices';
import { ensureRegistryIndexes } from '../../db/indexes';
import { isDeviceInScope, nextScopePage, scanScope } from '../../db/scope';
import { checkTaskReferences, checkVerificationReferences } from '../../db/task-checks';
import { isOtaError } from '../../domain/errors';
import { deviceMatchesScope, resolveTreeDeviceKeys, type ScopeSpec } from '../../domain/scope';
import type { AssetTreeNode, Scalar } from '../../domain/types';
import { validateUpgradeTaskRequest } from '../../domain/validation/task';
import { testDb } from '../helpers/stack';

let mongo: Awaited<ReturnType<typeof testDb>>;
let db: Db;

const N = 2500;
interface Seed {
  productKey: string;
  deviceKey: string;
  firmwareVersion?: string;
  tags: Record<string, string>;
  attributes: Record<string, Scalar>;
}
const seeds: Seed[] = [];

beforeAll(async () => {
  mongo = await testDb('reg_scope');
  db = mongo.db;
  await ensureRegistryIndexes(db);
  for (let i = 0; i < N; i += 1) {
    seeds.push({
      productKey: i % 10 === 9 ? 'pkOther' : 'pk1',
      deviceKey: `dev-${String(i).padStart(5, '0')}`,
      ...(i % 7 === 6 ? {} : { firmwareVersion: ['1.0', '1.1', '2.0'][i % 3] }),
      tags: { site: ['berlin', 'paris'][i % 2], line: String(i % 5) },
      attributes: { rev: i % 4, lte: i % 3 === 0 },
    });
  }
  const now = new Date();
  await deviceCollection(db).insertMany(seeds.map((s) => newDeviceDoc(s, now)));
  // One root with every pk1 device directly under it (selectable), plus a hall whose devices are one level deeper.
  const nodes: AssetTreeNode[] = [
    { nodeId: 'root', parentId: null },
    { nodeId: 'hall', parentId: 'root' },
  ];
  seeds.forEach((s, i) => {
    if (s.productKey !== 'pk1') return;
    nodes.push({ nodeId: `n${i}`, parentId: i < 500 ? 'hall' : 'root', productKey: 'pk1', deviceKey: s.deviceKey });
  });
  await putAssetTree(db, 'big', nodes);
});
afterAll(() => mongo.close());

async function expected(spec: ScopeSpec): Promise<string[]> {
  const trees = new Map([
    ['big', { nodes: (await db.collection('asset_trees').findOne({ treeId: 'big' }))?.nodes as AssetTreeNode[] }],
  ]);
  const treeKeys = resolveTreeDeviceKeys(spec.filter?.assetTrees, trees, spec.productKey);
  return seeds
    .filter((s) => deviceMatchesScope(s, spec, treeKeys))
    .map((s) => s.deviceKey)
    .sort();
}

/** Reads the whole scope page by page, passing the cursor through JSON as a workflow would. */
async function readAll(spec: ScopeSpec, limit: number): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: Awaited<ReturnType<typeof nextScopePage>> = await nextScopePage(db, spec, cursor, limit);
    expect(page.devices.length).toBeLessThanOrEqual(limit);
    keys.push(...page.devices.map((d) => d.deviceKey));
    cursor = JSON.parse(JSON.stringify(page.cursor)) as string | null;
    pages += 1;
  } while (cursor !== null);
  return { keys, pages };
}

const target = (filter: ScopeSpec['filter'], sourceVersions = ['1.0', '1.1']): ScopeSpec => ({
  productKey: 'pk1',
  sourceVersions,
  scope: 'target',
  filter,
});

describe('nextScopePage', () => {
  it.each<[string, ScopeSpec]>([
    ['scope all', { productKey: 'pk1', sourceVersions: ['1.0', '1.1'], scope: 'all' }],
    [
      'two tags',
      target({
        tags: [
          { key: 'site', value: 'berlin' },
          { key: 'line', value: '2' },
        ],
      }),
    ],
    [
      'typed attributes',
      target({
        attributes: [
          { name: 'rev', value: 1 },
          { name: 'lte', value: true },
        ],
      }),
    ],
    [
      'device keys and a tag',
      target({
        deviceKeys: ['dev-00000', 'dev-00002', 'dev-00003', 'dev-00019'],
        tags: [{ key: 'site', value: 'berlin' }],
      }),
    ],
    ['a root selection without descendants', target({ assetTrees: [{ treeId: 'big', nodeIds: ['root'] }] })],
    [
      'the root with descendants and a tag',
      target({
        assetTrees: [{ treeId: 'big', nodeIds: ['root'], includeDescendants: true }],
        tags: [{ key: 'line', value: '3' }],
      }),
    ],
    [
      'the hall with descendants',
      target({ assetTrees: [{ treeId: 'big', nodeIds: ['hall'], includeDescendants: true }] }, ['2.0']),
    ],
  ])('returns exactly the devices the pure rule selects for %s, in key order', async (_what, spec) => {
    const want = await expected(spec);
    const { keys } = await readAll(spec, 97);
    expect(keys).toEqual(want);
  });

  it('walks a key list longer than one query chunk without losing devices at chunk edges', async () => {
    const spec = target({ assetTrees: [{ treeId: 'big', nodeIds: ['root'], includeDescendants: true }] }, [
      '1.0',
      '1.1',
      '2.0',
    ]);
    const want = await expected(spec);
    expect(want.length).toBeGreaterThan(1500);
    for (const limit of [333, 2000, 5000]) {
      const { keys, pages } = await readAll(spec, limit);
      expect(keys).toEqual(want);
      expect(pages).toBe(Math.max(1, Math.ceil(want.length / limit)));
    }
  }, 180_000);

  it('rejects a cursor it did not make', async () => {
    const spec: ScopeSpec = { productKey: 'pk1', sourceVersions: ['1.0'], scope: 'all' };
    await expect(nextScopePage(db, spec, 'garbage', 10)).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('scanScope', () => {
  it('streams the scope in pages of the asked size and can resume after a page', async () => {
    const spec = target({ tags: [{ key: 'site', value: 'paris' }] });
    const pages: { keys: string[]; cursor: string | null }[] = [];
    for await (const page of scanScope(db, spec, { pageSize: 200 })) {
      pages.push({ keys: page.devices.map((d) => d.deviceKey), cursor: page.cursor });
    }
    expect(pages.flatMap((p) => p.keys)).toEqual(await expected(spec));
    expect(pages.slice(0, -1).every((p) => p.keys.length === 200)).toBe(true);
    expect(pages[pages.length - 1].cursor).toBeNull();
    const rest: string[] = [];
    for await (const page of scanScope(db, spec, { pageSize: 300, after: pages[0].cursor })) {
      rest.push(...page.devices.map((d) => d.deviceKey));
    }
    expect(rest).toEqual(pages.slice(1).flatMap((p) => p.keys));
  });

  it('matches a key list longer than one query chunk (a large asset tree) in memory', async () => {
    const spec = target({
      assetTrees: [{ treeId: 'big', nodeIds: ['root'], includeDescendants: true }],
      tags: [{ key: 'site', value: 'paris' }],
    });
    const keys: string[] = [];
    for await (const page of scanScope(db, spec, { pageSize: 150 })) keys.push(...page.devices.map((d) => d.deviceKey));
    expect(keys).toEqual(await expected(spec));
  });
});

describe('isDeviceInScope', () => {
  it('answers for one device with the trees as stored now', async () => {
    const spec = target({ assetTrees: [{ treeId: 'big', nodeIds: ['hall'], includeDescendants: true }] }, [
      '1.0',
      '1.1',
      '2.0',
    ]);
    const inHall = seeds.find((s, i) => i < 500 && s.productKey === 'pk1' && s.firmwareVersion) as Seed;
    const underRoot = seeds.find((s, i) => i >= 500 && s.productKey === 'pk1' && s.firmwareVersion) as Seed;
    expect(await isDeviceInScope(db, spec, inHall)).toBe(true);
    expect(await isDeviceInScope(db, spec, underRoot)).toBe(false);
    expect(await isDeviceInScope(db, { ...spec, sourceVersions: ['9.9'] }, inHall)).toBe(false);
  });
});

describe('checkTaskReferences and checkVerificationReferences', () => {
  beforeAll(async () => {
    const fw = (firmwareId: string, verified: boolean) => ({
      firmwareId,
      productKey: 'pk1',
      version: '2.0',
      name: '2.0',
      description: '',
      fileUrl: 'https://x/y.bin',
      fileSize: 1,
      signMethod: 'md5',
      sign: 'a'.repeat(32),
      verified,
      createdAt: new Date(),
    });
    await db.collection('firmwares').insertMany([fw('fw_ok', true), { ...fw('fw_new', false), version: '2.1' }]);
  });

  const task = (over: Record<string, unknown>) =>
    validateUpgradeTaskRequest({
      firmwareId: 'fw_ok',
      sourceVersions: ['1.0'],
      strategy: 'snapshot',
      scope: 'all',
      method: 'push',
      ...over,
    });
  const pathsOf = async (p: Promise<unknown>): Promise<string[]> => {
    try {
      await p;
    } catch (err) {
      if (isOtaError(err)) return err.details.map((d) => d.path);
      throw err;
    }
    return [];
  };

  it('returns the firmware for a good request and names each bad reference', async () => {
    expect((await checkTaskReferences(db, task({}))).productKey).toBe('pk1');
    expect(await pathsOf(checkTaskReferences(db, task({ firmwareId: 'fw_none' })))).toEqual(['/firmwareId']);
    expect(await pathsOf(checkTaskReferences(db, task({ firmwareId: 'fw_new' })))).toEqual(['/firmwareId']);
    expect(await pathsOf(checkTaskReferences(db, task({ sourceVersions: ['1.0', '2.0'] })))).toEqual([
      '/sourceVersions/1',
    ]);
    const deep = task({
      scope: 'target',
      filter: {
        assetTrees: [
          { treeId: 'big', nodeIds: ['hall', 'n3', 'n600'] },
          { treeId: 'gone', nodeIds: ['x'] },
        ],
      },
    });
    expect(await pathsOf(checkTaskReferences(db, deep))).toEqual([
      '/filter/assetTrees/0/nodeIds/1',
      '/filter/assetTrees/1/treeId',
    ]);
  });

  it('checks that verification devices are registered in the firmware product', async () => {
    const fw = await checkVerificationReferences(db, 'fw_new', { deviceKeys: ['dev-00000'], upgradeTimeout: 7200 });
    expect(fw.firmwareId).toBe('fw_new');
    expect(
      await pathsOf(
        checkVerificationReferences(db, 'fw_new', {
          deviceKeys: ['dev-00000', 'dev-00009', 'nope'],
          upgradeTimeout: 7200,
        }),
      ),
    ).toEqual(['/deviceKeys/1', '/deviceKeys/2']);
    await expect(
      checkVerificationReferences(db, 'fw_none', { deviceKeys: ['dev-00000'], upgradeTimeout: 7200 }),
    ).rejects.toMatchObject({
      code: 'not_found',
    });
  });
});
