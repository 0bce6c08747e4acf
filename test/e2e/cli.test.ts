/**
 * The command-line client (dist/cli/ota.js, built by the install step) as an
 * operator runs it, against the real API, worker, Temporal and database.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../config/config';
import { eventually } from '../helpers/eventually';
import { startServiceStack, type ServiceStack } from '../helpers/service-stack';

const PK = 'cli-pk';
let stack: ServiceStack;
let firmwareId: string;

function ota(args: string[], stdin?: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist/cli/ota.js'), ...args], {
      env: { ...process.env, OTA_API_URL: stack.apiUrl, OTA_API_TOKEN: '' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
    child.stdin.end(stdin ?? '');
  });
}

beforeAll(async () => {
  stack = await startServiceStack('cli');
  await stack.startWorker();
  // Two registered devices on 1.0.0 that never connect: the task keeps them waiting, offline.
  for (const deviceKey of ['cli-a', 'cli-b']) {
    expect(
      (await stack.api('POST', '/v1/devices', { productKey: PK, deviceKey, firmwareVersion: '1.0.0' })).status,
    ).toBe(201);
  }
  const fw = await stack.api<{ firmwareId: string }>('POST', '/v1/firmwares', {
    productKey: PK,
    version: '2.0.0',
    fileUrl: 'https://files.example.com/fw-2.0.0.bin',
    fileSize: 1024,
    signMethod: 'md5',
    sign: '9e107d9d372bb6826bd81d3542a419d6',
  });
  firmwareId = fw.body.firmwareId;
  // Verification needs connected devices (the end-to-end rollout test does one); here it is a given.
  await stack.db.db.collection('firmwares').updateOne({ firmwareId }, { $set: { verified: true } });
});

afterAll(async () => {
  await stack?.stop();
});

describe('ota command-line client', () => {
  it('creates a task from stdin, lists it, shows its progress and records, and steers it', async () => {
    const body = { firmwareId, sourceVersions: ['1.0.0'], strategy: 'snapshot', scope: 'all', method: 'push' };
    const created = await ota(['create', '-'], JSON.stringify(body));
    expect(created).toMatchObject({ code: 0, err: '' });
    const taskId = /^created (task-\S+) /.exec(created.out)?.[1];
    expect(taskId).toBeDefined();

    const listed = await ota(['tasks']);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(
      new RegExp(`^TASK\\s+STATUS\\s+KIND\\s+TARGET\\s+CREATED\\s+NAME\\n(.*\\n)*${taskId}\\s`),
    );

    const shown = await eventually(
      'both devices waiting in the task',
      () => ota(['task', taskId!]),
      (r) => r.out.includes('to be pushed 2'),
      30_000,
    );
    expect(shown.out).toContain(`${taskId}  snapshot/push → 2.0.0`);
    expect(shown.out).toMatch(/·{40}\s+0%\s+0\/2/);

    const devices = await ota(['devices', taskId!, '--status', 'to_be_pushed']);
    expect(devices.code).toBe(0);
    expect(devices.out).toMatch(/^cli-a\s+to_be_pushed\s+offline\s+1\.0\.0 → 2\.0\.0\s+0%\s+0$/m);
    expect(devices.out).toMatch(/^cli-b\s+to_be_pushed\s+offline/m);
    const one = await ota(['devices', taskId!, '--device-key', 'cli-b', '--json']);
    expect(JSON.parse(one.out).items.map((r: { deviceKey: string }) => r.deviceKey)).toEqual(['cli-b']);

    expect(await ota(['pause', taskId!])).toMatchObject({ code: 0, out: `pause requested for ${taskId}\n` });
    await eventually(
      'the task paused, with the reason shown',
      () => ota(['task', taskId!]),
      (r) => r.out.includes('[paused]') && r.out.includes('paused: paused by an operator'),
      30_000,
    );
    expect((await ota(['cancel', taskId!])).code).toBe(0);
    const watched = await ota(['watch', taskId!, '--interval', '0.2']);
    expect(watched.code).toBe(0);
    expect(watched.out).toMatch(/\[cancelled\]/);
    expect(watched.out).toMatch(/100%\s+2\/2/);
  });

  it('prints the API error with its field details and exits 1; a wrong command line exits 2', async () => {
    const refused = await ota(['create', '-'], JSON.stringify({ firmwareId, sourceVersions: [], scope: 'all' }));
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^error: invalid_request: /);
    expect(refused.err).toContain('  /sourceVersions: ');
    expect(refused.err).toContain('  /strategy: is required');

    const missing = await ota(['task', 'task-nope']);
    expect(missing).toMatchObject({ code: 1 });
    expect(missing.err).toMatch(/^error: not_found: upgrade task task-nope not found/);

    const notJson = await ota(['create', '-'], '{"firmwareId":');
    expect(notJson.code).toBe(2);
    expect(notJson.err).toMatch(/^error: - is not JSON: /);

    const unknown = await ota(['deploy', 'everything']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('error: unknown command "deploy"');
    expect(unknown.err).toContain('Usage: node dist/cli/ota.js <command> [options]');

    const away = await ota(['tasks', '--api', 'http://127.0.0.1:9']);
    expect(away.code).toBe(1);
    expect(away.err).toMatch(/^error: unreachable: cannot reach the API at http:\/\/127\.0\.0\.1:9/);
  });
});
