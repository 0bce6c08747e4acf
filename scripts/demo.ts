/**
 * `npm run demo`: the main job, shown. On the embedded stack (started here
 * unless one already answers) it registers firmware, verifies it on 3
 * simulated devices, registers 1,000 simulated devices with mixed behaviours,
 * starts a snapshot push task and an increment task, adds devices while they
 * run, and draws live progress per task, with links to the API and to the
 * Web UI filtered to each task's device workflows. Ctrl-C stops everything.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../config/config';
import { ManagedProcess } from '../runtime/managed-process';
import { waitUntil } from '../runtime/net';
import { Fleet, fleetSpecs, type DeviceSpec } from '../simulator';
import { ApiClient } from '../cli/api-client';
import { drawProgress, type TaskView } from '../cli/progress-view';

const config = loadConfig();
const API = `http://127.0.0.1:${config.apiPort}`;
const UI = `http://127.0.0.1:${config.temporalUiPort}`;
const PK = `demo-${Date.now().toString(36)}`;

const api = new ApiClient(API, config.apiToken);
const call = <T>(method: string, route: string, body?: unknown): Promise<T> => api.request<T>(method, route, body);

const say = (line: string) => process.stdout.write(`${line}\n`);
const healthy = async () => (await fetch(`${API}/healthz`).catch(() => undefined))?.status === 200;

function demoFleet(): { main: DeviceSpec[]; verifiers: DeviceSpec[]; late: DeviceSpec[] } {
  const g = (prefix: string, count: number, behaviour: DeviceSpec['behaviour'], version = '1.0.0') =>
    fleetSpecs({ productKey: PK, count, prefix, version, behaviour });
  const steps = { steps: [20, 50, 80, 100], stepDelayMs: 400 };
  return {
    verifiers: g('verifier-', 3, { kind: 'succeed', ...steps }, '0.9.0'),
    main: [
      ...g('ok-', 820, { kind: 'succeed', ...steps }),
      ...g('download-fails-', 40, { kind: 'fail', code: -2, ...steps }),
      ...g('bad-signature-', 20, { kind: 'fail', code: -3, ...steps }),
      ...g('declines-', 30, { kind: 'decline' }),
      ...g('offline-a-while-', 60, { kind: 'offline', forMs: 45_000, then: { kind: 'succeed', ...steps } }),
      ...g('reboots-new-', 20, { kind: 'drop', reconnectAfterMs: 3000, comeBackOn: 'new', ...steps }),
      ...g('reboots-old-', 10, { kind: 'drop', reconnectAfterMs: 3000, comeBackOn: 'old', ...steps }),
    ],
    late: g('late-joiner-', 50, { kind: 'succeed', ...steps }),
  };
}

async function main(): Promise<void> {
  let launcher: ManagedProcess | undefined;
  if (!(await healthy())) {
    say(`starting the embedded stack (log: ${path.join(config.dataDir, 'logs', 'launcher.log')}) …`);
    fs.mkdirSync(path.join(config.dataDir, 'logs'), { recursive: true });
    launcher = new ManagedProcess({
      name: 'launcher',
      command: process.execPath,
      args: [path.join(PROJECT_ROOT, 'dist/scripts/launcher.js')],
      logFile: path.join(config.dataDir, 'logs', 'launcher.log'),
    });
    const stack = launcher;
    await waitUntil(
      'the service to come up',
      async () => {
        if (!stack.running)
          throw new Error(`the launcher stopped; see ${path.join(config.dataDir, 'logs', 'launcher.log')}`);
        return healthy();
      },
      180_000,
      1000,
    );
  }
  const { main: devices, verifiers, late } = demoFleet();
  const fleet = new Fleet({ url: config.mqttUrl, maxConcurrentConnects: 100 });
  // Late joiners are a fleet of their own: connecting them must not reconnect the devices mid-upgrade.
  const lateFleet = new Fleet({ url: config.mqttUrl, maxConcurrentConnects: 100 });
  const stop = async () => {
    await fleet.close().catch(() => undefined);
    await lateFleet.close().catch(() => undefined);
    // The launcher stops services, then the database and Temporal: give it time, or they outlive it.
    await launcher?.stop(60_000);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());

  say(`product ${PK}: registering ${devices.length + verifiers.length} devices and connecting them …`);
  const register = (specs: DeviceSpec[], tags?: Record<string, string>) =>
    call('POST', '/v1/devices:batch', {
      devices: specs.map((s) => ({
        productKey: PK,
        deviceKey: s.deviceKey,
        deviceSecret: s.deviceSecret,
        ...(tags ? { tags } : {}),
        // Devices that are offline now reported their version on an earlier visit: the registry knows it.
        ...(s.behaviour?.kind === 'offline' ? { firmwareVersion: s.version } : {}),
      })),
    });
  await register([...devices, ...verifiers]);
  for (const s of [...devices, ...verifiers]) fleet.add(s);
  await fleet.connect();
  await waitUntil(
    'the devices to report their versions',
    async () => {
      const page = await call<{ items: unknown[] }>('GET', `/v1/devices?productKey=${PK}&version=0.9.0&limit=10`);
      return page.items.length === verifiers.length;
    },
    120_000,
    1000,
  );

  const fw = await call<{ firmwareId: string }>('POST', '/v1/firmwares', {
    productKey: PK,
    version: '2.0.0',
    name: 'Demo firmware 2.0.0',
    fileUrl: `/ota/${PK}/2.0.0.bin`,
    fileSize: 1_048_576,
    signMethod: 'md5',
    sign: '9e107d9d372bb6826bd81d3542a419d6',
  });
  say(`firmware ${fw.firmwareId} registered; verifying it on ${verifiers.length} devices …`);
  await call('POST', `/v1/firmwares/${fw.firmwareId}/verification`, { deviceKeys: verifiers.map((v) => v.deviceKey) });
  await waitUntil(
    'verification',
    async () => (await call<{ verified: boolean }>('GET', `/v1/firmwares/${fw.firmwareId}`)).verified,
    300_000,
    1000,
  );
  say('verified. Starting a snapshot push task over every device on 1.0.0, and an increment task for late joiners.');

  const snapshot = await call<TaskView>('POST', '/v1/upgrade-tasks', {
    name: 'Snapshot push to the fleet',
    firmwareId: fw.firmwareId,
    sourceVersions: ['1.0.0'],
    strategy: 'snapshot',
    scope: 'all',
    method: 'push',
    upgradeTimeout: 600,
    maxConcurrency: 200,
  });
  const increment = await call<TaskView>('POST', '/v1/upgrade-tasks', {
    name: 'Increment: late joiners',
    firmwareId: fw.firmwareId,
    sourceVersions: ['1.0.0'],
    strategy: 'increment',
    scope: 'target',
    filter: { tags: [{ key: 'wave', value: 'late' }] },
    method: 'push',
  });
  for (const t of [snapshot, increment]) {
    say(`  ${t.name}: ${API}/v1/upgrade-tasks/${t.taskId}`);
    say(`    Web UI: ${UI}/namespaces/default/workflows?query=${encodeURIComponent(`OtaTaskId="${t.taskId}"`)}`);
  }

  setTimeout(() => {
    void (async () => {
      await register(late, { wave: 'late' });
      for (const s of late) lateFleet.add(s);
      await lateFleet.connect();
    })();
  }, 15_000);

  let lines = 0;
  for (;;) {
    const views = await Promise.all(
      [snapshot, increment].map((t) => call<TaskView>('GET', `/v1/upgrade-tasks/${t.taskId}`)),
    );
    if (lines) process.stdout.write(`\x1b[${lines}A`);
    const out = views.map(drawProgress).join('\n');
    process.stdout.write(`${out}\n`);
    lines = out.split('\n').length;
    const lateDone = views[1].counts.success + views[1].counts.failure >= late.length;
    if (views[0].status === 'completed' && lateDone) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  say('\nThe snapshot task has completed and the late joiners are upgraded; the increment task keeps running.');
  say('Failures by reason:');
  const failed = await call<{ items: Array<{ deviceKey: string; failure: { reason: string } }> }>(
    'GET',
    `/v1/upgrade-tasks/${snapshot.taskId}/devices?status=failure&limit=500`,
  );
  const reasons = new Map<string, number>();
  for (const r of failed.items) reasons.set(r.failure.reason, (reasons.get(r.failure.reason) ?? 0) + 1);
  for (const [reason, n] of reasons) say(`  ${String(n).padStart(4)}  ${reason}`);
  say(launcher ? 'Press Ctrl-C to stop the stack.' : 'Done.');
  if (!launcher) await stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
