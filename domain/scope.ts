/**
 * Which devices an upgrade task covers: the pure rules, shared by the API
 * (task creation), the activities (scope pages) and the workflows (single
 * device checks). No Node or MongoDB imports: this module is workflow-safe.
 *
 * A device is in scope when it belongs to the task's product, reports one of
 * the source versions and, with scope `target`, passes every filter kind that
 * is given (deviceKeys AND tags AND attributes AND asset trees; within tags and
 * within attributes all listed entries must match).
 */
import type { ErrorDetail } from './errors';
import type { AssetTree, AssetTreeFilter, AssetTreeNode, Filter, Scalar, Scope } from './types';

/** What scope resolution needs from a task (or a verification, with scope `target`). */
export interface ScopeSpec {
  productKey: string;
  sourceVersions: string[];
  scope: Scope;
  filter?: Filter;
}

/** The device fields scope matching reads. */
export interface ScopeDevice {
  productKey: string;
  deviceKey: string;
  firmwareVersion?: string | null;
  tags: Record<string, string>;
  attributes: Record<string, Scalar>;
}

/** EnOS: only roots (depth 0) and nodes directly under a root (depth 1) may be selected. */
export const MAX_SELECTABLE_DEPTH = 1;

function nodeIndex(nodes: readonly AssetTreeNode[]): Map<string, AssetTreeNode> {
  return new Map(nodes.map((n) => [n.nodeId, n]));
}

/** Depth of a node in a valid tree (root = 0). Bounded by the node count so a corrupt tree cannot loop. */
export function nodeDepth(nodes: ReadonlyMap<string, AssetTreeNode>, nodeId: string): number {
  let depth = 0;
  let current = nodes.get(nodeId);
  while (current && current.parentId !== null && depth <= nodes.size) {
    depth += 1;
    current = nodes.get(current.parentId);
  }
  return depth;
}

/**
 * Problems with the asset-tree part of a filter against the stored trees:
 * unknown trees, unknown nodes, and nodes deeper than EnOS allows selecting.
 */
export function treeSelectionProblems(
  selections: readonly AssetTreeFilter[],
  trees: ReadonlyMap<string, AssetTree>,
  basePath = '/filter/assetTrees',
): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  selections.forEach((sel, i) => {
    const tree = trees.get(sel.treeId);
    if (!tree) {
      problems.push({ path: `${basePath}/${i}/treeId`, message: `asset tree "${sel.treeId}" does not exist` });
      return;
    }
    const nodes = nodeIndex(tree.nodes);
    sel.nodeIds.forEach((nodeId, j) => {
      const path = `${basePath}/${i}/nodeIds/${j}`;
      if (!nodes.has(nodeId)) {
        problems.push({ path, message: `node "${nodeId}" is not in asset tree "${sel.treeId}"` });
      } else if (nodeDepth(nodes, nodeId) > MAX_SELECTABLE_DEPTH) {
        problems.push({
          path,
          message: `node "${nodeId}" is too deep: only root nodes and nodes directly under a root can be selected`,
        });
      }
    });
  });
  return problems;
}

/**
 * Device keys of `productKey` selected by one tree selection: the selected
 * nodes that are devices, plus every device node below them when
 * `includeDescendants` is set. Devices of other products are ignored.
 */
export function selectedTreeDeviceKeys(
  tree: Pick<AssetTree, 'nodes'>,
  selection: AssetTreeFilter,
  productKey: string,
): string[] {
  const nodes = nodeIndex(tree.nodes);
  const children = new Map<string, AssetTreeNode[]>();
  for (const n of tree.nodes) {
    if (n.parentId === null) continue;
    const list = children.get(n.parentId) ?? [];
    list.push(n);
    children.set(n.parentId, list);
  }
  const keys = new Set<string>();
  const visited = new Set<string>();
  const take = (n: AssetTreeNode): void => {
    if (n.productKey === productKey && n.deviceKey !== undefined) keys.add(n.deviceKey);
  };
  for (const nodeId of selection.nodeIds) {
    const selected = nodes.get(nodeId);
    if (!selected) continue;
    take(selected);
    if (!selection.includeDescendants) continue;
    // Iterative walk: trees may be deep, and `visited` guards against a corrupt (cyclic) document.
    const stack = [...(children.get(nodeId) ?? [])];
    while (stack.length > 0) {
      const n = stack.pop() as AssetTreeNode;
      if (visited.has(n.nodeId)) continue;
      visited.add(n.nodeId);
      take(n);
      stack.push(...(children.get(n.nodeId) ?? []));
    }
  }
  return [...keys];
}

/**
 * All device keys the asset-tree part of a filter selects (the union over the
 * listed trees), sorted; undefined when the filter names no trees.
 */
export function resolveTreeDeviceKeys(
  selections: readonly AssetTreeFilter[] | undefined,
  trees: ReadonlyMap<string, Pick<AssetTree, 'nodes'>>,
  productKey: string,
): string[] | undefined {
  if (!selections || selections.length === 0) return undefined;
  const keys = new Set<string>();
  for (const sel of selections) {
    const tree = trees.get(sel.treeId);
    if (tree) for (const k of selectedTreeDeviceKeys(tree, sel, productKey)) keys.add(k);
  }
  return [...keys].sort(compareKeys);
}

/** Code-unit order, the order MongoDB's binary collation sorts strings in (so cursors agree). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True when the filter needs the asset trees resolved before matching. */
export function needsTrees(spec: ScopeSpec): boolean {
  return spec.scope === 'target' && (spec.filter?.assetTrees?.length ?? 0) > 0;
}

/**
 * Whether one device is in scope. `treeDeviceKeys` is the result of
 * resolveTreeDeviceKeys and is required when the filter names asset trees.
 */
export function deviceMatchesScope(
  device: ScopeDevice,
  spec: ScopeSpec,
  treeDeviceKeys?: ReadonlySet<string> | readonly string[],
): boolean {
  if (device.productKey !== spec.productKey) return false;
  if (!device.firmwareVersion || !spec.sourceVersions.includes(device.firmwareVersion)) return false;
  if (spec.scope === 'all') return true;
  const filter = spec.filter ?? {};
  if (filter.deviceKeys && !filter.deviceKeys.includes(device.deviceKey)) return false;
  for (const { key, value } of filter.tags ?? []) {
    if (!Object.hasOwn(device.tags, key) || device.tags[key] !== value) return false;
  }
  for (const { name, value } of filter.attributes ?? []) {
    if (!Object.hasOwn(device.attributes, name) || device.attributes[name] !== value) return false;
  }
  if (needsTrees(spec)) {
    if (treeDeviceKeys === undefined)
      throw new Error('deviceMatchesScope: the filter names asset trees: pass treeDeviceKeys');
    const inTrees =
      treeDeviceKeys instanceof Set
        ? treeDeviceKeys.has(device.deviceKey)
        : (treeDeviceKeys as readonly string[]).includes(device.deviceKey);
    if (!inTrees) return false;
  }
  return true;
}
