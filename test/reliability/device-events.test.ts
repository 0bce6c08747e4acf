/**
 * A device event survives Temporal being unreachable from the gateway. The
 * gateway reaches the suite's real Temporal through a TCP forwarder that the
 * test closes and reopens (the outage the gateway sees; the worker keeps its
 * own connection). A pushed device that went offline before starting waits
 * for its `online` event with no timer: if that event were lost, it would
 * never get its command again.
 */
import { recordId, recordsCollection } from '../../db/records';
import { setFirmwareVerified } from '../../db/firmware';
import { EVENT_OUTBOX } from '../../db/event-outbox';
import { Fleet } from '../../simulator';
import { eventually } from '../helpers/eventually';
import { startServiceStack, type ServiceStack } from '../helpers/service-stack';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { temporalAddress } from '../helpers/stack';

const PK = 'dev-ev-pk';
const DK = 'dev-ev-1';
let stack: ServiceStack;
let proxy: TcpProxy;
let fleet: Fleet;
let taskId = '';

const timelineOf = async (taskId: string) =>
  ((await recordsCollection(stack.db.db).findOne({ _id: recordId(taskId, DK) }))?.timeline ?? []).map((e) => e.event);

beforeAll(async () => {
  proxy = await startTcpProxy(temporalAddress());
  stack = await startServiceStack('device_events', {
    gatewayTemporalAddress: proxy.address,
    outbox: { attempts: 2, backoffMs: 100, drainIntervalMs: 500 },
  });
  await stack.startWorker();
  await stack.api('POST', '/v1/devices:batch', {
    devices: [{ productKey: PK, deviceKey: DK, deviceSecret: 'dev-ev-secret' }],
  });
  // Receives its commands and never answers: whatever it is sent is on its record.
  fleet = new Fleet({ url: stack.mqttUrl }, [
    { productKey: PK, deviceKey: DK, deviceSecret: 'dev-ev-secret', version: '1.0.0', behaviour: { kind: 'silent' } },
  ]);
});

afterAll(async () => {
  await fleet?.close();
  await proxy?.restore().catch(() => undefined);
  await stack?.stop();
  await proxy?.close();
});

describe('device events while Temporal is unreachable', () => {
  it("delivers a reconnecting device's online event after the outage, so its command is pushed again", async () => {
    const device = fleet.device(DK);
    await fleet.connect();
    await eventually(
      'the device to report its version',
      () => stack.api<{ firmwareVersion: string | null }>('GET', `/v1/devices/${PK}/${DK}`),
      (r) => r.body.firmwareVersion === '1.0.0',
      30_000,
    );
    const fw = await stack.api<{ firmwareId: string }>('POST', '/v1/firmwares', {
      productKey: PK,
      version: '2.0.0',
      fileUrl: '/files/dev-ev-2.0.0',
      fileSize: 4096,
      signMethod: 'md5',
      sign: '9E107D9D372BB6826BD81D3542A419D6',
    });
    await setFirmwareVerified(stack.db.db, fw.body.firmwareId);
    const task = await stack.api<{ taskId: string }>('POST', '/v1/upgrade-tasks', {
      firmwareId: fw.body.firmwareId,
      sourceVersions: ['1.0.0'],
      strategy: 'snapshot',
      scope: 'target',
      filter: { deviceKeys: [DK] },
      method: 'push',
      upgradeTimeout: 3600,
    });
    expect(task.status).toBe(201);
    taskId = task.body.taskId;
    await eventually(
      'the first command',
      () => device.record.commands.length,
      (n) => n === 1,
      60_000,
    );

    // Offline before starting: the workflow stops its clock and waits for the device to be back.
    await device.disconnect();
    await eventually(
      'the workflow to hear it went offline',
      () => timelineOf(taskId),
      (t) => t.includes('offline'),
    );

    await proxy.cut();
    await device.connect();
    await eventually(
      'the online event to be kept in the outbox',
      () => stack.db.db.collection(EVENT_OUTBOX).countDocuments(),
      (n) => n >= 1,
    );
    expect(device.record.commands).toHaveLength(1);

    await proxy.restore();
    const commands = await eventually(
      'the command pushed again once the online event got through',
      () => device.record.commands,
      (c) => c.length === 2,
      90_000,
      200,
    );
    // The same attempt delivered again: one command id, never a second one.
    expect(commands[1].id).toBe(commands[0].id);
    expect(await timelineOf(taskId)).toContain('reconnected');
    expect(await stack.db.db.collection(EVENT_OUTBOX).countDocuments()).toBe(0);
    expect(stack.gateway.metrics.outbox).toMatchObject({ dropped: 0 });
    expect(stack.gateway.metrics.outbox.delivered).toBeGreaterThanOrEqual(1);
  });

  it('keeps what it could not deliver across a gateway restart, and delivers it in order once Temporal answers', async () => {
    const device = fleet.device(DK);
    await proxy.cut();
    // The device starts its upgrade while the gateway cannot reach Temporal, then the gateway restarts.
    await device.progress(20, 'downloading');
    await eventually(
      'the progress report to be kept in the outbox',
      () => stack.db.db.collection(EVENT_OUTBOX).countDocuments(),
      (n) => n >= 1,
    );
    await stack.restartGateway();
    expect(await timelineOf(taskId)).not.toContain('progress');

    await proxy.restore();
    const timeline = await eventually(
      'the progress and then the offline event to reach the workflow',
      () => timelineOf(taskId),
      (t) => t.includes('progress') && t.lastIndexOf('offline') > t.indexOf('progress'),
      90_000,
      200,
    );
    expect(timeline.filter((e) => e === 'progress')).toHaveLength(1);
    const rec = await recordsCollection(stack.db.db).findOne({ _id: recordId(taskId, DK) });
    expect(rec).toMatchObject({ status: 'upgrading', progress: 20 });
    await eventually(
      'the outbox to empty',
      () => stack.db.db.collection(EVENT_OUTBOX).countDocuments(),
      (n) => n === 0,
    );
  });
});
