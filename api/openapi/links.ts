/**
 * operationIds and OpenAPI links: which answer gives the ids another
 * operation takes. A stateful client (or fuzzer) follows them from a created
 * device, firmware, task, verification or tree, and from the first item of a
 * list, to the operations on that resource.
 */
import type { JsonSchema } from '../../domain/validation/schemas';

/** "method path" → operationId. */
const OPERATION_IDS: Record<string, string> = {
  'post /v1/devices': 'createDevice',
  'get /v1/devices': 'listDevices',
  'post /v1/devices:batch': 'createDevices',
  'get /v1/devices/{productKey}/{deviceKey}': 'getDevice',
  'patch /v1/devices/{productKey}/{deviceKey}': 'patchDevice',
  'delete /v1/devices/{productKey}/{deviceKey}': 'deleteDevice',
  'put /v1/products/{productKey}': 'putProduct',
  'get /v1/products/{productKey}': 'getProduct',
  'put /v1/asset-trees/{treeId}': 'putAssetTree',
  'get /v1/asset-trees/{treeId}': 'getAssetTree',
  'post /v1/firmwares': 'createFirmware',
  'get /v1/firmwares': 'listFirmware',
  'get /v1/firmwares/{firmwareId}': 'getFirmware',
  'delete /v1/firmwares/{firmwareId}': 'deleteFirmware',
  'post /v1/firmwares/{firmwareId}/verification': 'startVerification',
  'get /v1/firmwares/{firmwareId}/verification': 'getVerification',
  'post /v1/upgrade-tasks': 'createTask',
  'get /v1/upgrade-tasks': 'listTasks',
  'get /v1/upgrade-tasks/{taskId}': 'getTask',
  'get /v1/upgrade-tasks/{taskId}/devices': 'listTaskDevices',
  'get /v1/upgrade-tasks/{taskId}/devices/{deviceKey}': 'getTaskDevice',
  'post /v1/upgrade-tasks/{taskId}/cancel': 'cancelTask',
  'post /v1/upgrade-tasks/{taskId}/pause': 'pauseTask',
  'post /v1/upgrade-tasks/{taskId}/resume': 'resumeTask',
  'post /v1/upgrade-tasks/{taskId}/retry': 'retryTask',
  'post /v1/upgrade-tasks/{taskId}/devices/{deviceKey}/cancel': 'cancelTaskDevice',
};

type Params = Record<string, string>;
const to = (operationIds: string[], parameters: Params): Record<string, JsonSchema> =>
  Object.fromEntries(
    operationIds.map((id) => [`${id[0].toUpperCase()}${id.slice(1)}`, { operationId: id, parameters }]),
  );

const DEVICE_OPS = ['getDevice', 'patchDevice', 'deleteDevice'];
// Not getVerification: a firmware just created has none (404) until one is started, which links to it.
const FIRMWARE_OPS = ['getFirmware', 'startVerification', 'deleteFirmware'];
const TASK_OPS = ['getTask', 'listTaskDevices', 'pauseTask', 'resumeTask', 'retryTask', 'cancelTask'];
const device = (at: string): Params => ({
  productKey: `$response.body#${at}/productKey`,
  deviceKey: `$response.body#${at}/deviceKey`,
});

/** "method path status" → links of that answer. */
const LINKS: Record<string, Record<string, JsonSchema>> = {
  'post /v1/devices 201': to(DEVICE_OPS, device('')),
  'get /v1/devices 200': to(DEVICE_OPS, device('/items/0')),
  'put /v1/products/{productKey} 201': to(['getProduct'], { productKey: '$request.path.productKey' }),
  'put /v1/products/{productKey} 200': to(['getProduct'], { productKey: '$request.path.productKey' }),
  'put /v1/asset-trees/{treeId} 200': to(['getAssetTree'], { treeId: '$response.body#/treeId' }),
  'post /v1/firmwares 201': to(FIRMWARE_OPS, { firmwareId: '$response.body#/firmwareId' }),
  'get /v1/firmwares 200': to(FIRMWARE_OPS, { firmwareId: '$response.body#/items/0/firmwareId' }),
  'post /v1/firmwares/{firmwareId}/verification 202': {
    ...to(['getVerification'], { firmwareId: '$response.body#/firmwareId' }),
    ...to(TASK_OPS, { taskId: '$response.body#/verificationId' }),
  },
  'post /v1/upgrade-tasks 201': to(TASK_OPS, { taskId: '$response.body#/taskId' }),
  'get /v1/upgrade-tasks 200': to(TASK_OPS, { taskId: '$response.body#/items/0/taskId' }),
  'get /v1/upgrade-tasks/{taskId}/devices 200': to(['getTaskDevice', 'cancelTaskDevice'], {
    taskId: '$request.path.taskId',
    deviceKey: '$response.body#/items/0/deviceKey',
  }),
};

/** The paths with an operationId on every operation and links on the answers listed above. */
export function withLinks(paths: Record<string, JsonSchema>): Record<string, JsonSchema> {
  return Object.fromEntries(
    Object.entries(paths).map(([path, ops]) => [
      path,
      Object.fromEntries(
        Object.entries(ops).map(([method, op]) => {
          const operation = op as JsonSchema & { responses: Record<string, JsonSchema> };
          const responses = Object.fromEntries(
            Object.entries(operation.responses).map(([status, response]) => {
              const links = LINKS[`${method} ${path} ${status}`];
              return [status, links ? { ...response, links } : response];
            }),
          );
          const operationId = OPERATION_IDS[`${method} ${path}`];
          return [method, { ...(operationId ? { operationId } : {}), ...operation, responses }];
        }),
      ),
    ]),
  );
}
