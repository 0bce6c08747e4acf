/**
 * A device event the gateway lost (Temporal unreachable for a moment) delays an upgrade by
 * one re-check period at most: the waiting device workflow re-reads the registry. On the
 * time-skipping server, so the period passes in workflow time.
 */
import { DEFAULT_DEVICE_RECHECK_S } from '../../config/config';
import { devices } from '../../db/devices';
import { timeSkippingEnv } from '../helpers/stack';
import { eventually, PK, useWorld } from './world';

// The worker's default period, as shipped.
const t = useWorld('lost-events', timeSkippingEnv, { deviceRecheckS: DEFAULT_DEVICE_RECHECK_S });

const only = (...deviceKeys: string[]) => ({ scope: 'target' as const, filter: { deviceKeys } });
const timeline = (r: Record<string, unknown> | null) =>
  (r?.timeline ?? []) as Array<{ event: string; detail?: string }>;
/** A little more than one re-check period, in workflow time. */
const ONE_PERIOD_MS = (DEFAULT_DEVICE_RECHECK_S + 5) * 1000;

describe('lost device events', () => {
  it('pushes again a device that came back online without an online event, within one re-check period', async () => {
    await t.world.addDevice('lost-online');
    let answer = false;
    t.world.script.set('lost-online', () => (answer ? 'succeed' : 'silent'));
    const taskId = await t.world.createTask({ ...only('lost-online'), upgradeTimeout: 3600 });
    await eventually(
      'the device pushed',
      () => t.world.record(taskId, 'lost-online'),
      (r) => r?.status === 'pushed',
    );
    await t.world.setOnline('lost-online', false);
    await eventually(
      'the workflow to hear that it went offline',
      () => t.world.record(taskId, 'lost-online'),
      (r) => timeline(r).some((e) => e.event === 'offline'),
    );
    // Back online as the registry records it (its gateway with it); the signal to the workflow is the one lost.
    answer = true;
    await devices(t.mongo.db).updateOne(
      { productKey: PK, deviceKey: 'lost-online' },
      { $set: { online: true, gatewayId: t.world.gatewayId } },
    );

    await t.env.sleep(ONE_PERIOD_MS);
    const done = await eventually(
      'the device pushed again and upgraded',
      () => t.world.record(taskId, 'lost-online'),
      (r) => r?.status === 'success',
    );
    expect(timeline(done).map((e) => e.event)).toEqual(expect.arrayContaining(['reconnected', 'pushed again']));
    expect(t.world.pushes.filter((p) => p.deviceKey === 'lost-online')).toHaveLength(2);
  });

  it('counts a device that reported the target version although the report never reached its workflow', async () => {
    await t.world.addDevice('lost-version');
    t.world.script.set('lost-version', 'silent');
    const taskId = await t.world.createTask({ ...only('lost-version'), upgradeTimeout: 3600 });
    await eventually(
      'the device pushed',
      () => t.world.record(taskId, 'lost-version'),
      (r) => r?.status === 'pushed',
    );
    // The gateway wrote the reported version to the registry; its signal was lost.
    await devices(t.mongo.db).updateOne(
      { productKey: PK, deviceKey: 'lost-version' },
      { $set: { firmwareVersion: t.world.firmware.version, versionReportedAt: new Date() } },
    );
    await t.env.sleep(ONE_PERIOD_MS);
    const done = await eventually(
      'the device counted as upgraded',
      () => t.world.record(taskId, 'lost-version'),
      (r) => r?.status === 'success',
    );
    expect(timeline(done).at(-1)).toMatchObject({ event: 'success', detail: 'reported version 2.0.0' });
    await eventually(
      'the task to complete',
      () => t.world.taskStatus(taskId),
      (s) => s === 'completed',
    );
  });
});
