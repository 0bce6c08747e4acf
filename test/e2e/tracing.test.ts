/**
 * OpenTelemetry tracing on the real stack: the worker, started with
 * OTEL_EXPORTER_OTLP_ENDPOINT naming a receiver in this test (a plain HTTP
 * server on loopback that keeps what is POSTed to /v1/traces, as an OTLP/HTTP
 * collector would), exports the spans of a rollout: the workflows' and the
 * activities', the activities as children of the workflow that scheduled them.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Fleet } from '../../simulator';
import type { DeviceSpec } from '../../simulator';
import { eventually } from '../helpers/eventually';
import { startServiceStack, type ServiceStack } from '../helpers/service-stack';

const PK = 'trace-pk';

/** The parts of an OTLP/JSON export request this test reads. */
interface ExportRequest {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans: Array<{ spans: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string }> }>;
  }>;
}
interface Received {
  path: string;
  contentType: string;
  body: ExportRequest;
}
interface Span {
  service: string | undefined;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
}

function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'] ?? '',
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExportRequest,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        received,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

const spansOf = (received: Received[]): Span[] =>
  received.flatMap((r) =>
    r.body.resourceSpans.flatMap((rs) => {
      const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
      return rs.scopeSpans.flatMap((ss) =>
        ss.spans.map((s) => ({
          service,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
        })),
      );
    }),
  );

const device: DeviceSpec = {
  productKey: PK,
  deviceKey: 'traced-1',
  deviceSecret: 'secret-traced-1',
  version: '1.0.0',
  behaviour: { kind: 'succeed', stepDelayMs: 20 },
};

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let stack: ServiceStack;
let fleet: Fleet;

beforeAll(async () => {
  receiver = await startReceiver();
  stack = await startServiceStack('tracing', { workerEnv: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } });
  await stack.startWorker();
  const created = await stack.api<{ created: number }>('POST', '/v1/devices:batch', {
    devices: [{ productKey: PK, deviceKey: device.deviceKey, deviceSecret: device.deviceSecret }],
  });
  expect(created.body.created).toBe(1);
  fleet = new Fleet({ url: stack.mqttUrl }, [device]);
  await fleet.connect();
  await eventually(
    'the device to report 1.0.0',
    () => stack.api<{ items: unknown[] }>('GET', `/v1/devices?productKey=${PK}&version=1.0.0`),
    (r) => r.body.items.length === 1,
    30_000,
    250,
  );
});

afterAll(async () => {
  await fleet?.close();
  await stack?.stop();
  await receiver?.close();
});

it('exports the spans of a rollout, workflows and activities in one trace, to the configured OTLP endpoint', async () => {
  const fw = await stack.api<{ firmwareId: string }>('POST', '/v1/firmwares', {
    productKey: PK,
    version: '2.0.0',
    fileUrl: '/1b30e0ea83002000/ota/trace-2.0.0',
    fileSize: 4096,
    signMethod: 'md5',
    sign: '9E107D9D372BB6826BD81D3542A419D6',
  });
  expect(fw.status).toBe(201);
  const started = await stack.api('POST', `/v1/firmwares/${fw.body.firmwareId}/verification`, {
    deviceKeys: [device.deviceKey],
  });
  expect(started.status).toBe(202);
  await eventually(
    'the firmware to be verified',
    () => stack.api<{ verified: boolean }>('GET', `/v1/firmwares/${fw.body.firmwareId}`),
    (r) => r.body.verified,
    60_000,
    250,
  );
  expect(fleet.device(device.deviceKey).record.version).toBe('2.0.0');

  // Spans leave in batches about every second, each workflow's as it runs: wait until both
  // workflows' and an activity's with its parent have arrived.
  const spans = await eventually(
    'workflow and activity spans at the receiver',
    async () => spansOf(receiver.received),
    (all) => {
      const names = new Set(all.map((s) => s.name));
      const ids = new Set(all.map((s) => s.spanId));
      return (
        names.has('RunWorkflow:upgradeTaskWorkflow') &&
        names.has('RunWorkflow:deviceUpgradeWorkflow') &&
        all.some((s) => s.name.startsWith('RunActivity:') && ids.has(s.parentSpanId))
      );
    },
    60_000,
    250,
  );
  expect(receiver.received.every((r) => r.path === '/v1/traces' && r.contentType.startsWith('application/json'))).toBe(
    true,
  );
  expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['ota-worker']));
  const names = new Set(spans.map((s) => s.name));
  expect([...names]).toEqual(
    expect.arrayContaining(['RunWorkflow:upgradeTaskWorkflow', 'RunWorkflow:deviceUpgradeWorkflow']),
  );
  // An activity's span hangs under the workflow's StartActivity span, in the workflow's trace.
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const activity = spans.find((s) => s.name.startsWith('RunActivity:') && byId.has(s.parentSpanId));
  expect(activity && byId.get(activity.parentSpanId)?.name).toBe(`StartActivity:${activity?.name.split(':')[1]}`);
  const workflowTraces = new Set(spans.filter((s) => s.name.startsWith('RunWorkflow:')).map((s) => s.traceId));
  expect(workflowTraces.has(activity?.traceId ?? '')).toBe(true);
});
