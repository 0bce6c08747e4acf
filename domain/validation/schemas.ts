/**
 * The request-body JSON Schemas (draft 2020-12, the dialect of OpenAPI 3.1),
 * written once. api/openapi builds the published document from them and
 * domain/validation compiles them with ajv, so what the document forbids is
 * exactly what the API rejects. Rules a schema cannot say (overlapping
 * windows, tree structure, cross-field rules) live in the validators.
 *
 * `x-message` is a readable reason for a `pattern` or `format` failure, shown in error
 * details instead of the regular expression.
 */
import {
  IDENTIFIER_PATTERN,
  MAX_IDENTIFIER_LENGTH,
  MAX_KEY_LENGTH,
  MAX_TAG_VALUE_LENGTH,
  MAX_VERSION_LENGTH,
  SAFE_KEY_PATTERN,
  SAFE_TEXT_PATTERN,
  VERSION_PATTERN,
} from '../keys';
import {
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_UPGRADE_TIMEOUT_S,
  MAX_ASSET_TREES,
  MAX_UPGRADE_TIMEOUT_S,
  MIN_UPGRADE_TIMEOUT_S,
} from '../types';

export type JsonSchema = { [keyword: string]: unknown };

export const MAX_BATCH_DEVICES = 10_000;
export const MAX_TREE_NODES = 100_000;
export const MAX_FILTER_DEVICE_KEYS = 10_000;
export const MAX_VERIFICATION_DEVICES = 5;
export const MAX_CONCURRENCY = 10_000;
/** Devices' Java SDK casts fileSize to int. */
export const MAX_FILE_SIZE = 2_147_483_647;
export const SIGN_LENGTH = { md5: 32, sha256: 64 } as const;

/** Where schemas live in the OpenAPI document; ajv resolves the same pointers. */
export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

const text = (maxLength: number): JsonSchema => ({
  type: 'string',
  maxLength,
  pattern: SAFE_TEXT_PATTERN,
  'x-message': 'must not contain control characters',
});
const closed = (properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const list = (items: JsonSchema, minItems: number, maxItems: number): JsonSchema => ({
  type: 'array',
  items,
  minItems,
  maxItems,
});
/**
 * A list of distinct strings. The item type is stated beside the $ref because
 * ajv checks uniqueness of known scalar items with one hash pass; for items it
 * cannot type it compares every pair, which is quadratic in the list length.
 */
const distinctStrings = (items: JsonSchema, minItems: number, maxItems: number): JsonSchema => ({
  ...list({ ...items, type: 'string' }, minItems, maxItems),
  uniqueItems: true,
});

const Identifier: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_IDENTIFIER_LENGTH,
  pattern: IDENTIFIER_PATTERN,
  'x-message': 'may only contain letters, digits and _ . : @ -',
};
const Version: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_VERSION_LENGTH,
  pattern: VERSION_PATTERN,
  'x-message': 'must be printable ASCII without spaces',
};
const Key: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_KEY_LENGTH,
  pattern: SAFE_KEY_PATTERN,
  'x-message': 'must not contain "$", "." or control characters, nor be a reserved name',
};
const TagValue: JsonSchema = { ...text(MAX_TAG_VALUE_LENGTH), minLength: 1 };
const Scalar: JsonSchema = {
  type: ['string', 'number', 'boolean'],
  maxLength: MAX_TAG_VALUE_LENGTH,
  pattern: SAFE_TEXT_PATTERN,
  'x-message': 'must not contain control characters',
};
const Tags: JsonSchema = {
  type: 'object',
  description: 'Tag key → value. Keys may not contain "$", "." or control characters.',
  propertyNames: ref('Key'),
  additionalProperties: ref('TagValue'),
  maxProperties: 100,
};
const Attributes: JsonSchema = {
  type: 'object',
  description: 'Attribute name → scalar (string, number or boolean).',
  propertyNames: ref('Key'),
  additionalProperties: ref('Scalar'),
  maxProperties: 100,
};

const DeviceCreate = closed(
  {
    productKey: ref('Identifier'),
    deviceKey: ref('Identifier'),
    deviceSecret: {
      type: 'string',
      minLength: 8,
      maxLength: 128,
      pattern: '^[\\u0021-\\u007e]+$',
      'x-message': 'must be printable ASCII without spaces',
      description: 'Generated when absent; returned only in the creation answer.',
    },
    name: text(256),
    tags: ref('Tags'),
    attributes: ref('Attributes'),
    firmwareVersion: ref('Version'),
  },
  ['productKey', 'deviceKey'],
);

const ProductPut = closed(
  {
    dynamicActivation: {
      type: 'boolean',
      description: 'Whether unactivated devices of this product may log in with the product secret (securemode=3).',
    },
    // Like deviceSecret: what an SDK profile carries and hashes into the sign.
    productSecret: {
      type: 'string',
      minLength: 8,
      maxLength: 128,
      pattern: '^[\\u0021-\\u007e]+$',
      'x-message': 'must be printable ASCII without spaces',
      description: 'Kept when absent (generated when absent on creation); returned only in the creation answer.',
    },
  },
  ['dynamicActivation'],
);

/**
 * Items are not constrained here on purpose: each is checked against
 * DeviceCreate on its own, and one that does not fit is reported in the
 * answer's `failed` (by index) while the others are registered.
 */
const DeviceBatch = closed(
  {
    devices: list(
      {
        description:
          'A DeviceCreate. Checked one by one: an item that does not fit DeviceCreate, or is already ' +
          'registered, is reported in `failed` with its index and reason (answer 200), and the others are registered.',
      },
      1,
      MAX_BATCH_DEVICES,
    ),
  },
  ['devices'],
);

const DevicePatch: JsonSchema = {
  ...closed({ name: text(256), tags: ref('Tags'), attributes: ref('Attributes') }),
  minProperties: 1,
  description: 'Each given field replaces the stored one as a whole (tags and attributes are not merged).',
};

const AssetTreeNode: JsonSchema = {
  ...closed(
    {
      nodeId: ref('Identifier'),
      parentId: { type: ['string', 'null'], minLength: 1, maxLength: MAX_IDENTIFIER_LENGTH },
      name: text(256),
      productKey: ref('Identifier'),
      deviceKey: ref('Identifier'),
    },
    ['nodeId', 'parentId'],
  ),
  description: 'A node; with productKey and deviceKey it is a device. parentId is null for a root.',
  // Each needs the other. As if/then rather than dependentRequired, which generators of
  // OpenAPI test data (schemathesis) ignore, so the document would promise too much.
  allOf: [
    { if: { required: ['productKey'] }, then: { required: ['deviceKey'] } },
    { if: { required: ['deviceKey'] }, then: { required: ['productKey'] } },
  ],
};
const AssetTreePut = closed({ nodes: list(ref('AssetTreeNode'), 1, MAX_TREE_NODES) }, ['nodes']);

const FirmwareCreate: JsonSchema = {
  ...closed(
    {
      productKey: ref('Identifier'),
      version: ref('Version'),
      name: text(256),
      description: text(2048),
      // EnOS devices fetch from an http(s) URL, an enos-connect:// URI or a file-service path.
      fileUrl: {
        type: 'string',
        format: 'uri-reference',
        maxLength: 2048,
        pattern: '^(https?://|enos-connect://|/)[^\\s]+$',
        'x-message': 'must be an http(s) URL, an enos-connect:// URI or an absolute path on the file service',
      },
      fileSize: { type: 'integer', minimum: 1, maximum: MAX_FILE_SIZE },
      signMethod: { enum: ['md5', 'sha256'] },
      sign: { type: 'string', pattern: '^[0-9A-Fa-f]+$', 'x-message': 'must be a hex digest' },
    },
    ['productKey', 'version'],
  ),
  // The file fields come together, or not at all: then PUT /v1/firmwares/{id}/file fills them.
  dependentRequired: {
    fileUrl: ['fileSize', 'signMethod', 'sign'],
    fileSize: ['fileUrl'],
    sign: ['fileUrl'],
  },
  allOf: (['md5', 'sha256'] as const).map((method) => ({
    if: { properties: { signMethod: { const: method } }, required: ['signMethod'] },
    then: {
      properties: { sign: { type: 'string', minLength: SIGN_LENGTH[method], maxLength: SIGN_LENGTH[method] } },
    },
  })),
};

const Filter: JsonSchema = {
  ...closed({
    deviceKeys: distinctStrings(ref('Identifier'), 1, MAX_FILTER_DEVICE_KEYS),
    tags: list(closed({ key: ref('Key'), value: ref('TagValue') }, ['key', 'value']), 1, 100),
    attributes: list(closed({ name: ref('Key'), value: ref('Scalar') }, ['name', 'value']), 1, 100),
    assetTrees: list(
      closed(
        {
          treeId: ref('Identifier'),
          nodeIds: distinctStrings(ref('Identifier'), 1, 1000),
          includeDescendants: { type: 'boolean', default: false },
        },
        ['treeId', 'nodeIds'],
      ),
      1,
      MAX_ASSET_TREES,
    ),
  }),
  minProperties: 1,
  description: 'Only with scope "target". Kinds combine with AND; all listed tags and attributes must match.',
};

const START = {
  type: 'string',
  pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$',
  'x-message': 'must be "HH:MM" (00:00–23:59)',
};
/** 24:00 lets a window end at midnight without wrapping to the next day. */
const END = {
  type: 'string',
  pattern: '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$',
  'x-message': 'must be "HH:MM" (00:00–24:00)',
  description: 'Earlier than start for a window over midnight.',
};
const Schedule = closed(
  {
    timezone: { type: 'string', minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. "Asia/Shanghai".' },
    windows: list(closed({ start: START, end: END }, ['start', 'end']), 1, 24),
  },
  ['timezone', 'windows'],
);

const Retry = closed(
  {
    maxAttempts: { type: 'integer', minimum: 1, maximum: 10 },
    intervalSeconds: { type: 'integer', minimum: 0, maximum: 86_400 },
  },
  ['maxAttempts', 'intervalSeconds'],
);

const AutoPause = closed(
  {
    failurePercent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
    afterDevices: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 10 },
  },
  ['failurePercent'],
);

const RateLimit = closed(
  {
    perMinute: { type: 'integer', minimum: 1, maximum: 100_000 },
    ramp: closed(
      {
        startPerMinute: { type: 'integer', minimum: 1, maximum: 100_000 },
        factor: { type: 'number', exclusiveMinimum: 1, maximum: 10 },
        everySucceeded: { type: 'integer', minimum: 1, maximum: 1_000_000 },
      },
      ['startPerMinute', 'factor', 'everySucceeded'],
    ),
  },
  ['perMinute'],
);

const FirstStage = closed(
  {
    devices: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    percent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
    successPercent: { type: 'number', minimum: 0, maximum: 100, default: 100 },
    approval: closed({ deadlineHours: { type: 'number', exclusiveMinimum: 0, maximum: 720 } }, ['deadlineHours']),
  },
  [],
);

const upgradeTimeout = {
  type: 'integer',
  minimum: MIN_UPGRADE_TIMEOUT_S,
  maximum: MAX_UPGRADE_TIMEOUT_S,
  default: DEFAULT_UPGRADE_TIMEOUT_S,
};

const UpgradeTaskCreate = closed(
  {
    name: text(256),
    firmwareId: ref('Identifier'),
    sourceVersions: distinctStrings(ref('Version'), 1, 100),
    strategy: { enum: ['snapshot', 'increment'] },
    scope: { enum: ['all', 'target'] },
    filter: ref('Filter'),
    method: { enum: ['push', 'request'] },
    schedule: ref('Schedule'),
    upgradeTimeout,
    maxConcurrency: { type: 'integer', minimum: 1, maximum: MAX_CONCURRENCY, default: DEFAULT_MAX_CONCURRENCY },
    retry: ref('Retry'),
    autoPause: ref('AutoPause'),
    rateLimit: ref('RateLimit'),
    firstStage: ref('FirstStage'),
    soakMinutes: {
      type: 'integer',
      minimum: 1,
      maximum: 10_080,
      description: 'Count a success only after the device has stayed on the new version this long.',
    },
    endTime: {
      type: 'string',
      format: 'date-time',
      description: 'Increment tasks only: when the task stops admitting and pushing, and completes.',
      'x-message': 'must be a date-time with a time zone, e.g. 2026-12-31T18:00:00Z',
    },
  },
  ['firmwareId', 'sourceVersions', 'strategy', 'scope', 'method'],
);

const VerificationCreate = closed(
  { deviceKeys: distinctStrings(ref('Identifier'), 1, MAX_VERIFICATION_DEVICES), upgradeTimeout },
  ['deviceKeys'],
);

const TaskRetry = closed({ deviceKeys: distinctStrings(ref('Identifier'), 1, MAX_FILTER_DEVICE_KEYS) });

/** Every schema a request body is checked against, by the name the OpenAPI document uses. */
export const REQUEST_SCHEMAS = {
  Identifier,
  Version,
  Key,
  TagValue,
  Scalar,
  Tags,
  Attributes,
  DeviceCreate,
  DeviceBatch,
  DevicePatch,
  AssetTreeNode,
  AssetTreePut,
  FirmwareCreate,
  Filter,
  Schedule,
  Retry,
  AutoPause,
  RateLimit,
  FirstStage,
  UpgradeTaskCreate,
  VerificationCreate,
  TaskRetry,
  ProductPut,
} satisfies Record<string, JsonSchema>;

export type RequestSchemaName = keyof typeof REQUEST_SCHEMAS;
