/** The pure scope rules (domain/scope.ts): EnOS asset-tree selection and AND combination of filters. */
import {
  deviceMatchesScope,
  resolveTreeDeviceKeys,
  selectedTreeDeviceKeys,
  treeSelectionProblems,
  type ScopeDevice,
  type ScopeSpec,
} from '../../domain/scope';
import type { AssetTree } from '../../domain/types';

// site ─┬─ hall ─┬─ pump (d1)
//       │        └─ line ── valve (d4)
//       ├─ gw (d2)
//       └─ other (pkX/d9)
// spare (d3)   (a second root that is itself a device)
const tree: AssetTree = {
  treeId: 't1',
  updatedAt: '2026-01-01T00:00:00.000Z',
  nodes: [
    { nodeId: 'site', parentId: null },
    { nodeId: 'hall', parentId: 'site' },
    { nodeId: 'pump', parentId: 'hall', productKey: 'pk1', deviceKey: 'd1' },
    { nodeId: 'line', parentId: 'hall' },
    { nodeId: 'valve', parentId: 'line', productKey: 'pk1', deviceKey: 'd4' },
    { nodeId: 'gw', parentId: 'site', productKey: 'pk1', deviceKey: 'd2' },
    { nodeId: 'other', parentId: 'site', productKey: 'pkX', deviceKey: 'd9' },
    { nodeId: 'spare', parentId: null, productKey: 'pk1', deviceKey: 'd3' },
  ],
};
const trees = new Map([['t1', tree]]);

describe('asset-tree selection (EnOS rule)', () => {
  it('takes the selected nodes that are devices, not the devices below them', () => {
    expect(selectedTreeDeviceKeys(tree, { treeId: 't1', nodeIds: ['site', 'gw', 'spare'] }, 'pk1').sort()).toEqual([
      'd2',
      'd3',
    ]);
    expect(selectedTreeDeviceKeys(tree, { treeId: 't1', nodeIds: ['hall'] }, 'pk1')).toEqual([]);
  });

  it('with includeDescendants, takes every device node under the selected nodes, of the task product only', () => {
    const keys = selectedTreeDeviceKeys(tree, { treeId: 't1', nodeIds: ['site'], includeDescendants: true }, 'pk1');
    expect(keys.sort()).toEqual(['d1', 'd2', 'd4']);
    const hall = selectedTreeDeviceKeys(tree, { treeId: 't1', nodeIds: ['hall'], includeDescendants: true }, 'pk1');
    expect(hall.sort()).toEqual(['d1', 'd4']);
  });

  it('unites several selections, sorted and without repeats', () => {
    const keys = resolveTreeDeviceKeys(
      [
        { treeId: 't1', nodeIds: ['hall'], includeDescendants: true },
        { treeId: 't1', nodeIds: ['gw', 'spare'] },
      ],
      trees,
      'pk1',
    );
    expect(keys).toEqual(['d1', 'd2', 'd3', 'd4']);
    expect(resolveTreeDeviceKeys(undefined, trees, 'pk1')).toBeUndefined();
  });

  it('allows selecting roots and nodes directly under a root, and names deeper, unknown nodes and trees', () => {
    expect(treeSelectionProblems([{ treeId: 't1', nodeIds: ['site', 'hall', 'gw', 'spare'] }], trees)).toEqual([]);
    const problems = treeSelectionProblems(
      [
        { treeId: 't1', nodeIds: ['site', 'pump', 'ghost'] },
        { treeId: 'nope', nodeIds: ['a'] },
      ],
      trees,
    );
    expect(problems.map((p) => p.path)).toEqual([
      '/filter/assetTrees/0/nodeIds/1',
      '/filter/assetTrees/0/nodeIds/2',
      '/filter/assetTrees/1/treeId',
    ]);
    expect(problems[0].message).toContain('too deep');
  });
});

describe('deviceMatchesScope', () => {
  const device: ScopeDevice = {
    productKey: 'pk1',
    deviceKey: 'd1',
    firmwareVersion: '1.0',
    tags: { site: 'berlin', line: '3' },
    attributes: { rev: 2, model: 'X1' },
  };
  const all: ScopeSpec = { productKey: 'pk1', sourceVersions: ['1.0', '1.1'], scope: 'all' };
  const target = (filter: ScopeSpec['filter']): ScopeSpec => ({ ...all, scope: 'target', filter });

  it('needs the product and a source version', () => {
    expect(deviceMatchesScope(device, all)).toBe(true);
    expect(deviceMatchesScope({ ...device, productKey: 'pk2' }, all)).toBe(false);
    expect(deviceMatchesScope({ ...device, firmwareVersion: '2.0' }, all)).toBe(false);
    expect(deviceMatchesScope({ ...device, firmwareVersion: undefined }, all)).toBe(false);
  });

  it('requires every listed tag and attribute, with attribute types kept', () => {
    expect(
      deviceMatchesScope(
        device,
        target({
          tags: [
            { key: 'site', value: 'berlin' },
            { key: 'line', value: '3' },
          ],
        }),
      ),
    ).toBe(true);
    expect(
      deviceMatchesScope(
        device,
        target({
          tags: [
            { key: 'site', value: 'berlin' },
            { key: 'line', value: '4' },
          ],
        }),
      ),
    ).toBe(false);
    expect(deviceMatchesScope(device, target({ attributes: [{ name: 'rev', value: 2 }] }))).toBe(true);
    expect(deviceMatchesScope(device, target({ attributes: [{ name: 'rev', value: '2' }] }))).toBe(false);
    expect(deviceMatchesScope(device, target({ tags: [{ key: 'toString', value: 'x' }] }))).toBe(false);
  });

  it('combines filter kinds with AND', () => {
    const spec = target({
      deviceKeys: ['d1', 'd2'],
      tags: [{ key: 'site', value: 'berlin' }],
      assetTrees: [{ treeId: 't1', nodeIds: ['site'], includeDescendants: true }],
    });
    const inTrees = new Set(['d1', 'd4']);
    expect(deviceMatchesScope(device, spec, inTrees)).toBe(true);
    expect(deviceMatchesScope({ ...device, deviceKey: 'd4' }, spec, inTrees)).toBe(false); // not in deviceKeys
    expect(deviceMatchesScope({ ...device, deviceKey: 'd2' }, spec, inTrees)).toBe(false); // not in the trees
    expect(deviceMatchesScope({ ...device, tags: {} }, spec, inTrees)).toBe(false); // tag missing
  });

  it('refuses to guess when the filter names trees but no tree devices are given', () => {
    expect(() => deviceMatchesScope(device, target({ assetTrees: [{ treeId: 't1', nodeIds: ['site'] }] }))).toThrow(
      /treeDeviceKeys/,
    );
  });
});
