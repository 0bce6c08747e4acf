/**
 * Request bodies of the registry endpoints (devices, products, firmware, asset trees):
 * shape from the JSON Schemas, plus what a schema cannot say (tree
 * structure). Each function returns the checked value or throws
 * invalid_request with one detail per problem.
 */
import type { ErrorDetail } from '../errors';
import type { AssetTreeNode, Scalar, SignMethod } from '../types';
import { checkSchema, invalidRequest, parseWithSchema, unprocessableRequest } from './compile';

export interface DeviceInput {
  productKey: string;
  deviceKey: string;
  deviceSecret?: string;
  name?: string;
  tags?: Record<string, string>;
  attributes?: Record<string, Scalar>;
  firmwareVersion?: string;
}

export interface DevicePatch {
  name?: string;
  tags?: Record<string, string>;
  attributes?: Record<string, Scalar>;
}

export interface FirmwareInput {
  productKey: string;
  version: string;
  name?: string;
  description?: string;
  /** The file fields, all or none: without them the firmware waits for its file upload. */
  fileUrl?: string;
  fileSize?: number;
  signMethod?: SignMethod;
  sign?: string;
}

/** PUT /v1/products/{productKey}: the whole settable state of a product. */
export interface ProductPut {
  dynamicActivation: boolean;
  productSecret?: string;
}

export const validateDeviceInput = (body: unknown): DeviceInput => parseWithSchema('DeviceCreate', body);
export const validateDevicePatch = (body: unknown): DevicePatch => parseWithSchema('DevicePatch', body);
export const validateProductPut = (body: unknown): ProductPut => parseWithSchema('ProductPut', body);

/** Checks one item of a batch; problems come back (with the item's path) instead of being thrown. */
export function checkBatchItem(item: unknown, index: number): { value: DeviceInput; details: ErrorDetail[] } {
  const { value, details } = checkSchema<DeviceInput>('DeviceCreate', item);
  return { value, details: details.map((d) => ({ path: `/devices/${index}${d.path}`, message: d.message })) };
}

/**
 * The batch envelope only: `{devices: [...]}` with 1 to 10,000 entries. The
 * entries are checked one by one (checkBatchItem) so one bad device fails
 * alone, as the batch answer reports failures per index.
 */
export function validateDeviceBatch(body: unknown): { devices: unknown[] } {
  const envelope = typeof body === 'object' && body !== null && !Array.isArray(body) ? body : undefined;
  const devices = (envelope as { devices?: unknown } | undefined)?.devices;
  // Check the envelope with placeholder items, so the (per-item) device schema does not run here.
  const probe = envelope ? { ...envelope, devices: Array.isArray(devices) ? devices.map(() => ({})) : devices } : body;
  const { details } = checkSchema<unknown>('DeviceBatch', probe);
  const envelopeOnly = details.filter((d) => !/^\/devices\/\d+/.test(d.path));
  if (envelopeOnly.length > 0) throw invalidRequest(envelopeOnly);
  return { devices: devices as unknown[] };
}

/** Signs are compared as text by devices: store them lower-case, as toOffer sends them. */
export function validateFirmwareInput(body: unknown): FirmwareInput {
  const fw = parseWithSchema<FirmwareInput>('FirmwareCreate', body);
  return fw.sign === undefined ? fw : { ...fw, sign: fw.sign.toLowerCase() };
}

/**
 * Tree structure: unique node ids, parents that exist, no cycles, and each
 * device placed once. (Whether the devices exist is asked of the database.)
 */
export function assetTreeProblems(nodes: readonly AssetTreeNode[]): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const indexOf = new Map<string, number>();
  const devicesAt = new Map<string, number>();
  nodes.forEach((n, i) => {
    const first = indexOf.get(n.nodeId);
    if (first !== undefined) {
      problems.push({
        path: `/nodes/${i}/nodeId`,
        message: `node id "${n.nodeId}" is already used by /nodes/${first}`,
      });
      return;
    }
    indexOf.set(n.nodeId, i);
    if (n.deviceKey !== undefined && n.productKey !== undefined) {
      const ref = `${n.productKey}/${n.deviceKey}`;
      const placed = devicesAt.get(ref);
      if (placed !== undefined) {
        problems.push({
          path: `/nodes/${i}/deviceKey`,
          message: `device ${ref} is already placed at /nodes/${placed}`,
        });
      } else devicesAt.set(ref, i);
    }
  });
  nodes.forEach((n, i) => {
    if (n.parentId === null || indexOf.get(n.nodeId) !== i) return;
    if (n.parentId === n.nodeId)
      problems.push({ path: `/nodes/${i}/parentId`, message: 'a node cannot be its own parent' });
    else if (!indexOf.has(n.parentId)) {
      problems.push({ path: `/nodes/${i}/parentId`, message: `parent "${n.parentId}" is not a node of this tree` });
    }
  });
  if (problems.length > 0) return problems;
  return cycleProblems(nodes, indexOf);
}

/** Nodes whose parent chain never reaches a root. Memoised walk: linear in the node count. */
function cycleProblems(nodes: readonly AssetTreeNode[], indexOf: ReadonlyMap<string, number>): ErrorDetail[] {
  const ROOTED = 1;
  const CYCLIC = 2;
  const state = new Map<string, number>();
  const problems: ErrorDetail[] = [];
  for (const start of nodes) {
    const chain: AssetTreeNode[] = [];
    const onChain = new Set<string>();
    let current: AssetTreeNode | undefined = start;
    let verdict = ROOTED;
    while (current) {
      const known = state.get(current.nodeId);
      if (known !== undefined) {
        verdict = known;
        break;
      }
      if (onChain.has(current.nodeId)) {
        verdict = CYCLIC;
        break;
      }
      chain.push(current);
      onChain.add(current.nodeId);
      current = current.parentId === null ? undefined : nodes[indexOf.get(current.parentId) as number];
    }
    for (const n of chain) {
      state.set(n.nodeId, verdict);
      if (verdict === CYCLIC) {
        problems.push({
          path: `/nodes/${indexOf.get(n.nodeId)}/parentId`,
          message: `node "${n.nodeId}" is in or below a cycle: its parents never reach a root`,
        });
      }
    }
  }
  return problems.sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}

export function validateAssetTreeBody(body: unknown): { nodes: AssetTreeNode[] } {
  const tree = parseWithSchema<{ nodes: AssetTreeNode[] }>('AssetTreePut', body);
  const problems = assetTreeProblems(tree.nodes);
  if (problems.length > 0) throw unprocessableRequest(problems);
  return tree;
}
