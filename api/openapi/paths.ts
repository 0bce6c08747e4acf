/**
 * Every endpoint of contract v1 (README "Using it", docs/behaviour.md), including the task,
 * control, verification and record endpoints whose handlers live in the
 * task routes. Request bodies point at the request schemas the API validates
 * with; query parameters come from api/query.ts, which the routes parse with.
 */
import { DEVICE_LIST_PARAMS, FIRMWARE_LIST_PARAMS, type QueryParam } from '../query';
import { RECORD_LIST_PARAMS, TASK_LIST_PARAMS } from '../task-query';
import { ref, type JsonSchema } from '../../domain/validation/schemas';

type Operation = JsonSchema;

const json = (schema: JsonSchema): JsonSchema => ({ content: { 'application/json': { schema } } });
const answer = (description: string, schema?: string): JsonSchema =>
  schema ? { description, ...json(ref(schema)) } : { description };
const error = (description: string): JsonSchema => answer(description, 'Error');

const pathParam = (name: string, description: string, schema: JsonSchema = { type: 'string' }): JsonSchema => ({
  name,
  in: 'path',
  required: true,
  description,
  schema,
});
const query = (params: QueryParam[]): JsonSchema[] =>
  params.map((p) => ({
    name: p.name,
    in: 'query',
    description: p.description,
    schema: p.schema,
    ...(p.schema.type === 'array' ? { style: 'form', explode: true } : {}),
  }));

const PK = pathParam('productKey', 'Product key.');
const DK = pathParam('deviceKey', 'Device key.');
const FW = pathParam('firmwareId', 'Firmware id.');
const TREE = pathParam('treeId', 'Asset tree id.');
/** Where the id is created (PUT), it must be a valid identifier; reads just find nothing. */
const NEW_TREE = pathParam('treeId', 'Asset tree id (letters, digits and _ . : @ -, at most 64).', ref('Identifier'));
const TASK = pathParam('taskId', 'Task id (also the task workflow id).');
const PRODUCT = pathParam('productKey', 'Product key (letters, digits and _ . : @ -, at most 64).', ref('Identifier'));

interface OpSpec {
  summary: string;
  tag: string;
  params?: JsonSchema[];
  body?: string;
  /** Request body may be omitted (e.g. retry all failed devices). */
  optionalBody?: boolean;
  ok: [status: number, description: string, schema?: string];
  errors?: Record<number, string>;
}

function op(s: OpSpec): Operation {
  const responses: Record<string, JsonSchema> = { [String(s.ok[0])]: answer(s.ok[1], s.ok[2]) };
  if (s.body || s.params?.some((p) => p.in === 'query')) responses['400'] = error('Invalid request; see details.');
  responses['401'] = error('Missing or wrong bearer token (when OTA_API_TOKEN is set).');
  for (const [status, description] of Object.entries(s.errors ?? {})) responses[status] = error(description);
  return {
    summary: s.summary,
    tags: [s.tag],
    ...(s.params ? { parameters: s.params } : {}),
    ...(s.body ? { requestBody: { required: !s.optionalBody, ...json(ref(s.body)) } } : {}),
    responses,
  };
}

/** An operation with a second success answer (e.g. a PUT that answers 201 when it creates). */
const withResponse = (operation: Operation, status: number, response: JsonSchema): Operation => ({
  ...operation,
  responses: { [String(status)]: response, ...(operation.responses as Record<string, JsonSchema>) },
});

const taskControl = (action: string, summary: string): JsonSchema => ({
  post: op({
    summary,
    tag: 'tasks',
    params: [TASK],
    ok: [202, `Accepted: the task is being ${action}.`, 'Task'],
    errors: { 404: 'Unknown task.', 409: 'The task is in a state that does not allow this.' },
  }),
});

/** The device download: no bearer token, the signed URL authorises it; one byte range, a strong ETag. */
function download(summary: string): Operation {
  const header = (name: string, description: string): JsonSchema => ({
    name,
    in: 'header',
    description,
    schema: { type: 'string' },
  });
  const signedBy = (name: string, description: string): JsonSchema => ({
    name,
    in: 'query',
    required: true,
    description,
    schema: { type: 'string' },
  });
  return {
    summary,
    tags: ['firmware'],
    security: [],
    parameters: [
      FW,
      signedBy('expires', 'Unix seconds after which the URL is refused.'),
      signedBy('signature', 'HMAC-SHA256 of the firmware id and expires (base64url).'),
      header('Range', 'One range: bytes=a-b, bytes=a- or bytes=-n (a list of ranges gets the whole file).'),
      header('If-Range', 'The ETag of a partial copy; another ETag gets the whole file.'),
      header('If-None-Match', 'ETags; a match answers 304.'),
    ],
    responses: {
      200: { description: 'The whole file (ETag: its sha256).' },
      206: { description: 'The requested range, with Content-Range.' },
      304: { description: 'Not modified (If-None-Match matched).' },
      403: { description: 'Missing, forged or expired signature.', ...json(ref('Error')) },
      404: {
        description: 'The firmware has no uploaded file, or its stored bytes have gone missing.',
        ...json(ref('Error')),
      },
      416: { description: 'The range starts past the end (Content-Range: bytes */size).', ...json(ref('Error')) },
    },
  };
}

export const PATHS: Record<string, JsonSchema> = {
  '/v1/devices': {
    post: op({
      summary: 'Register a device (its secret is generated when absent and returned only here).',
      tag: 'devices',
      body: 'DeviceCreate',
      ok: [201, 'The device, with deviceSecret.', 'DeviceCreated'],
      errors: { 409: 'The device is already registered.' },
    }),
    get: op({
      summary: 'List devices in (productKey, deviceKey) order.',
      tag: 'devices',
      params: query(DEVICE_LIST_PARAMS),
      ok: [200, 'A page of devices.', 'DeviceList'],
    }),
  },
  '/v1/devices:batch': {
    post: op({
      summary: 'Register up to 10,000 devices; each invalid or duplicate device fails alone.',
      tag: 'devices',
      body: 'DeviceBatch',
      ok: [
        200,
        'How many were created, and each item refused (invalid or already registered) by index with its reason.',
        'DeviceBatchResult',
      ],
    }),
  },
  '/v1/devices/{productKey}/{deviceKey}': {
    get: op({
      summary: 'Read a device.',
      tag: 'devices',
      params: [PK, DK],
      ok: [200, 'The device.', 'Device'],
      errors: { 404: 'Unknown device.' },
    }),
    patch: op({
      summary: 'Replace a device’s name, tags or attributes.',
      tag: 'devices',
      params: [PK, DK],
      body: 'DevicePatch',
      ok: [200, 'The device.', 'Device'],
      errors: { 404: 'Unknown device.' },
    }),
    delete: op({
      summary: 'Delete a device.',
      tag: 'devices',
      params: [PK, DK],
      ok: [200, 'The deleted device.', 'Device'],
      errors: { 404: 'Unknown device.' },
    }),
  },
  '/v1/products/{productKey}': {
    put: withResponse(
      op({
        summary:
          'Create or update a product: dynamic activation (securemode=3) on or off, and its product secret. ' +
          'The secret is kept unless given, generated when absent on creation, and returned only on creation.',
        tag: 'products',
        params: [PRODUCT],
        body: 'ProductPut',
        ok: [200, 'Updated: the product (without its secret).', 'Product'],
      }),
      201,
      answer('Created: the product with productSecret.', 'ProductCreated'),
    ),
    get: op({
      summary: 'Read a product (never its secret).',
      tag: 'products',
      params: [PRODUCT],
      ok: [200, 'The product.', 'Product'],
      errors: { 404: 'Unknown product.' },
    }),
  },
  '/v1/products/{productKey}/versions': {
    get: op({
      summary:
        'Fleet versions: devices of the product per reported firmware version, online and offline, and how many ' +
        'are in an active upgrade (a record pushed or upgrading in any task). ' +
        'Newest version first; devices that never reported a version last (version null).',
      tag: 'products',
      params: [PRODUCT],
      ok: [200, 'The counts (all zero for a product without devices).', 'FleetVersions'],
      errors: { 400: 'Invalid productKey, or a query parameter (this endpoint takes none).' },
    }),
  },
  '/v1/asset-trees/{treeId}': {
    put: op({
      summary: 'Create or replace an asset tree (EnOS node model).',
      tag: 'asset trees',
      params: [NEW_TREE],
      body: 'AssetTreePut',
      ok: [200, 'The tree.', 'AssetTree'],
      errors: {
        409: 'A device node names a device that is not registered.',
        422: 'Not a tree: a node is its own parent, a parent is missing, a cycle, a node id or device twice.',
      },
    }),
    get: op({
      summary: 'Read an asset tree.',
      tag: 'asset trees',
      params: [TREE],
      ok: [200, 'The tree.', 'AssetTree'],
      errors: { 404: 'Unknown tree.' },
    }),
  },
  '/v1/firmwares': {
    post: op({
      summary: 'Add firmware (unverified until a verification upgrade succeeds).',
      tag: 'firmware',
      body: 'FirmwareCreate',
      ok: [201, 'The firmware.', 'Firmware'],
      errors: { 409: 'The product already has this version.' },
    }),
    get: op({
      summary: 'List firmware.',
      tag: 'firmware',
      params: query(FIRMWARE_LIST_PARAMS),
      ok: [200, 'A page of firmware.', 'FirmwareList'],
    }),
  },
  '/v1/firmwares/{firmwareId}': {
    get: op({
      summary: 'Read firmware.',
      tag: 'firmware',
      params: [FW],
      ok: [200, 'The firmware.', 'Firmware'],
      errors: { 404: 'Unknown firmware.' },
    }),
    delete: op({
      summary: 'Delete firmware that no active task or verification uses.',
      tag: 'firmware',
      params: [FW],
      ok: [204, 'Deleted.'],
      errors: { 404: 'Unknown firmware.', 409: 'An active task or verification uses it.' },
    }),
  },
  '/v1/firmwares/{firmwareId}/file': {
    put: {
      ...op({
        summary:
          'Upload the firmware file (raw bytes, streamed): fills fileUrl, fileSize, sign and signMethod from the stored bytes.',
        tag: 'firmware',
        params: [
          FW,
          {
            name: 'sign',
            in: 'query',
            description:
              'The md5 or sha256 (hex) the uploader expects; the upload is refused with 422 and nothing changes when the file differs.',
            schema: { type: 'string', pattern: '^[0-9A-Fa-f]{32}([0-9A-Fa-f]{32})?$' },
          },
          {
            name: 'signMethod',
            in: 'query',
            description: 'Digest devices check (default: the firmware’s signMethod, or the one sign’s length implies).',
            schema: { enum: ['md5', 'sha256'] },
          },
        ],
        ok: [200, 'The firmware with the measured fields.', 'Firmware'],
        errors: {
          404: 'Unknown firmware.',
          409: 'The firmware is verified, or an active task or verification uses it.',
          413: 'The file is larger than OTA_FIRMWARE_MAX_BYTES.',
          422: 'The file does not have the given sign, or sign has the length of the other digest than signMethod names.',
        },
      }),
      requestBody: {
        required: true,
        content: {
          'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
        },
      },
    },
  },
  '/firmware-files/{firmwareId}': {
    get: download('Download an uploaded firmware file (devices; the upgrade command carries this URL, signed).'),
    head: download('The headers of a download, without the bytes.'),
  },
  '/v1/firmwares/{firmwareId}/verification': {
    post: withResponse(
      op({
        summary: 'Start a verification upgrade on 1–5 named devices.',
        tag: 'firmware',
        params: [FW],
        body: 'VerificationCreate',
        ok: [202, 'The verification started.', 'Verification'],
        errors: {
          404: 'Unknown firmware.',
          409:
            'A verification of this firmware is already running, or a device is not registered, has not ' +
            'reported a version yet or already runs this one.',
        },
      }),
      200,
      answer('The verification an earlier request with the same Idempotency-Key started.', 'Verification'),
    ),
    get: op({
      summary: 'The state of the firmware’s verification.',
      tag: 'firmware',
      params: [FW],
      ok: [200, 'Its state.', 'Verification'],
      errors: { 404: 'Unknown firmware or no verification.' },
    }),
  },
  '/v1/upgrade-tasks': {
    post: withResponse(
      op({
        summary: 'Create a batch upgrade task.',
        tag: 'tasks',
        body: 'UpgradeTaskCreate',
        ok: [201, 'The task with taskId, status and workflowId.', 'Task'],
        errors: {
          409:
            'The stored state refuses it: the firmware does not exist or is not verified, a source version is ' +
            'the target version, or a named asset tree or node does not exist.',
          422: 'Fits the schema but breaks a rule over its own fields, e.g. scope "target" without a filter.',
        },
      }),
      200,
      answer('The task an earlier request with the same Idempotency-Key created.', 'Task'),
    ),
    get: op({
      summary: 'List tasks.',
      tag: 'tasks',
      params: query(TASK_LIST_PARAMS),
      ok: [200, 'A page of tasks.', 'TaskList'],
    }),
  },
  '/v1/upgrade-tasks/{taskId}': {
    get: op({
      summary: 'Read a task with counts per record status and total.',
      tag: 'tasks',
      params: [TASK],
      ok: [200, 'The task.', 'Task'],
      errors: { 404: 'Unknown task.' },
    }),
  },
  '/v1/upgrade-tasks/{taskId}/devices': {
    get: op({
      summary: 'Device upgrade records of a task (the detail tabs).',
      tag: 'records',
      params: [TASK, ...query(RECORD_LIST_PARAMS)],
      ok: [200, 'A page of records.', 'DeviceUpgradeRecordList'],
      errors: { 404: 'Unknown task.' },
    }),
  },
  '/v1/upgrade-tasks/{taskId}/devices/{deviceKey}': {
    get: op({
      summary: 'One record with its timeline.',
      tag: 'records',
      params: [TASK, DK],
      ok: [200, 'The record.', 'DeviceUpgradeRecord'],
      errors: { 404: 'Unknown task or device.' },
    }),
  },
  '/v1/upgrade-tasks/{taskId}/cancel': taskControl('cancelled', 'Cancel a task: no new pushes.'),
  '/v1/upgrade-tasks/{taskId}/pause': taskControl('paused', 'Pause a task: no pushes while paused.'),
  '/v1/upgrade-tasks/{taskId}/resume': taskControl('resumed', 'Resume a paused task.'),
  '/v1/upgrade-tasks/{taskId}/retry': {
    post: op({
      summary: 'Retry the failed devices of a running task (all, or the named ones).',
      tag: 'tasks',
      params: [TASK],
      body: 'TaskRetry',
      optionalBody: true,
      ok: [202, 'How many devices were retried.', 'RetryResult'],
      errors: { 404: 'Unknown task.', 409: 'The task is not running.' },
    }),
  },
  '/v1/upgrade-tasks/{taskId}/devices/{deviceKey}/cancel': {
    post: op({
      summary: 'Cancel one device that is not yet pushed or only pushed.',
      tag: 'records',
      params: [TASK, DK],
      ok: [202, 'The record.', 'DeviceUpgradeRecord'],
      errors: { 404: 'Unknown task or device.', 409: 'The device is already upgrading.' },
    }),
  },
};
