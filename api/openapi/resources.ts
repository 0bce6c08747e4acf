/**
 * Schemas of what the API answers (docs/behaviour.md). Open to additions
 * (no additionalProperties: false): clients must tolerate new fields, while
 * request bodies stay closed.
 */
import { HTTP_STATUS } from '../../domain/errors';
import { RECORD_STATUSES } from '../../domain/types';
import { ref, type JsonSchema } from '../../domain/validation/schemas';

const dateTime: JsonSchema = { type: 'string', format: 'date-time' };
const nullable = (schema: JsonSchema): JsonSchema => ({ oneOf: [schema, { type: 'null' }] });
const obj = (properties: Record<string, JsonSchema>, required = Object.keys(properties)): JsonSchema => ({
  type: 'object',
  properties,
  required,
});
export const listOf = (item: string): JsonSchema =>
  obj({ items: { type: 'array', items: ref(item) }, nextCursor: nullable({ type: 'string' }) });

const ErrorDetail = obj({
  path: { type: 'string', description: 'JSON-pointer-like path of the field, e.g. "/schedule/windows/0/end".' },
  message: { type: 'string' },
});
const ErrorObject = obj({
  code: { enum: Object.keys(HTTP_STATUS) },
  message: { type: 'string' },
  details: { type: 'array', items: ref('ErrorDetail') },
});

const Device = obj({
  productKey: { type: 'string' },
  deviceKey: { type: 'string' },
  name: { type: 'string' },
  tags: { type: 'object', additionalProperties: { type: 'string' } },
  attributes: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
  firmwareVersion: { ...nullable({ type: 'string' }), description: 'null until the device reports a version.' },
  online: { type: 'boolean' },
  lastSeenAt: nullable(dateTime),
  createdAt: dateTime,
});

const Product = obj({
  productKey: { type: 'string' },
  dynamicActivation: {
    type: 'boolean',
    description: 'Unactivated devices may log in with the product secret (securemode=3) to receive their secret.',
  },
  createdAt: dateTime,
  updatedAt: dateTime,
});

const count = (description: string): JsonSchema => ({ type: 'integer', minimum: 0, description });
const VersionCount = obj({
  version: { ...nullable({ type: 'string' }), description: 'null: devices that never reported a version.' },
  total: count('Devices reporting this version.'),
  online: count('Of them, online now.'),
  offline: count('Of them, offline now.'),
  upgrading: count('Of them, in an active upgrade: a command pushed or being applied.'),
});
const FleetVersions = obj({
  productKey: { type: 'string' },
  total: count('Devices of the product.'),
  online: count('Of them, online now.'),
  upgrading: count('Of them, in an active upgrade.'),
  versions: { type: 'array', items: ref('VersionCount'), description: 'Newest version first, null last.' },
});

const Firmware = obj({
  firmwareId: { type: 'string' },
  productKey: { type: 'string' },
  version: { type: 'string' },
  name: { type: 'string' },
  description: { type: 'string' },
  fileUrl: { type: 'string' },
  fileSize: { type: 'integer' },
  signMethod: { enum: ['md5', 'sha256'] },
  sign: { type: 'string', description: 'Lower-case hex digest.' },
  verified: { type: 'boolean' },
  createdAt: dateTime,
});

const AssetTree = obj({
  treeId: { type: 'string' },
  nodes: { type: 'array', items: ref('AssetTreeNode') },
  updatedAt: dateTime,
});

const taskStatus: JsonSchema = { enum: ['waiting', 'running', 'paused', 'completed', 'cancelled'] };
const recordStatus: JsonSchema = { enum: [...RECORD_STATUSES] };

const Task: JsonSchema = {
  ...obj(
    {
      taskId: { type: 'string' },
      workflowId: { type: 'string' },
      name: { type: 'string' },
      status: taskStatus,
      counts: {
        type: 'object',
        description: 'Device records per record status.',
        properties: Object.fromEntries(RECORD_STATUSES.map((s) => [s, { type: 'integer' }])),
      },
      total: { type: 'integer' },
      createdAt: dateTime,
      firmwareId: { type: 'string' },
      productKey: { type: 'string' },
      sourceVersions: { type: 'array', items: { type: 'string' } },
      strategy: { enum: ['snapshot', 'increment'] },
      scope: { enum: ['all', 'target'] },
      filter: ref('Filter'),
      method: { enum: ['push', 'request'] },
      schedule: ref('Schedule'),
      upgradeTimeout: { type: 'integer' },
      maxConcurrency: { type: 'integer' },
      retry: ref('Retry'),
      autoPause: ref('AutoPause'),
      rateLimit: ref('RateLimit'),
      firstStage: ref('FirstStage'),
      soakMinutes: { type: 'integer' },
      stagePhase: {
        enum: ['first', 'awaiting_approval', 'rest'],
        description: 'A staged task: upgrading its first stage, waiting for approval (resume), or past it.',
      },
      endTime: dateTime,
      pauseReason: nullable({
        type: 'string',
        description: 'Why a paused task is paused: an operator, or auto-pause.',
      }),
    },
    ['taskId', 'workflowId', 'status', 'createdAt', 'firmwareId', 'sourceVersions', 'strategy', 'scope', 'method'],
  ),
  description: 'An upgrade task: the request fields plus its state. GET one adds counts and total.',
};

const TimelineEntry = obj({ at: dateTime, event: { type: 'string' }, detail: { type: 'string' } }, ['at', 'event']);

const DeviceUpgradeRecord = obj(
  {
    taskId: { type: 'string' },
    productKey: { type: 'string' },
    deviceKey: { type: 'string' },
    fromVersion: nullable({ type: 'string' }),
    toVersion: { type: 'string' },
    status: recordStatus,
    waitReason: nullable({
      enum: ['offline', 'window_closed', 'concurrency_limit', 'rate_limit', 'first_stage', 'paused', 'retry_scheduled'],
    }),
    skipReason: nullable({ type: 'string' }),
    progress: { type: 'integer', minimum: 0, maximum: 100 },
    failure: nullable(obj({ code: { type: 'string' }, reason: { type: 'string' } })),
    attempts: { type: 'integer' },
    timeline: { type: 'array', items: ref('TimelineEntry') },
    updatedAt: dateTime,
  },
  ['taskId', 'productKey', 'deviceKey', 'toVersion', 'status', 'progress', 'attempts', 'updatedAt'],
);

const Verification = obj(
  {
    verificationId: { type: 'string' },
    firmwareId: { type: 'string' },
    status: { type: 'string', description: 'The verification task status.' },
    deviceKeys: { type: 'array', items: { type: 'string' } },
  },
  ['verificationId', 'status'],
);

export const RESOURCE_SCHEMAS: Record<string, JsonSchema> = {
  ErrorDetail,
  Error: obj({ error: ref('ErrorObject') }),
  ErrorObject,
  Device,
  DeviceCreated: { allOf: [ref('Device'), obj({ deviceSecret: { type: 'string' } })] },
  DeviceList: listOf('Device'),
  DeviceBatchResult: obj({
    created: { type: 'integer' },
    failed: { type: 'array', items: obj({ index: { type: 'integer' }, error: ref('ErrorObject') }) },
  }),
  Product,
  VersionCount,
  FleetVersions,
  ProductCreated: {
    allOf: [ref('Product'), obj({ productSecret: { type: 'string', description: 'Shown only in this answer.' } })],
  },
  Firmware,
  FirmwareList: listOf('Firmware'),
  AssetTree,
  Task,
  TaskList: listOf('Task'),
  TimelineEntry,
  DeviceUpgradeRecord,
  DeviceUpgradeRecordList: listOf('DeviceUpgradeRecord'),
  Verification,
  RetryResult: obj({ retried: { type: 'integer' } }),
};
