/**
 * One push rollout for the kill matrix: a fleet of auto-reconnecting EnOS
 * devices whose outcome is known in advance (most succeed, a known subset
 * fails with a download error or declines, a few are offline when the task
 * starts and come back later), the task that upgrades them, and what the
 * stack and the devices say once it is over.
 */
import { MongoClient } from 'mongodb';
import { Fleet, fleetSpecs, type DeviceSpec } from '../../../simulator';
import { eventually } from '../../helpers/eventually';
import type { LaunchedStack } from './launched-stack';

export const FROM = '1.0.0';
export const TO = '2.0.0';

export interface RolloutPlan {
  productKey: string;
  /** Devices in all; a tenth fail, a twentieth decline, a tenth are away when the task starts. */
  devices: number;
  maxConcurrency: number;
  /** Delay before each of the four progress steps of a succeeding device. */
  stepDelayMs: number;
  /** The SDK-like reconnect backoff of every device. */
  reconnect: { minDelayMs: number; maxDelayMs: number };
}

export interface Groups {
  ok: DeviceSpec[];
  failing: DeviceSpec[];
  declining: DeviceSpec[];
  away: DeviceSpec[];
}

export interface TaskCounts {
  status: string;
  counts: Record<string, number>;
  total: number;
}

export interface RecordItem {
  deviceKey: string;
  status: string;
  failure: { code: string; reason?: string } | null;
  skipReason?: string | null;
  waitReason?: string | null;
}

export const keys = (specs: DeviceSpec[]): string[] => specs.map((s) => s.deviceKey).sort();

export function plannedGroups(plan: RolloutPlan): Groups {
  const n = plan.devices;
  const failing = Math.max(2, Math.round(n / 10));
  const declining = Math.max(2, Math.round(n / 20));
  const away = Math.max(2, Math.round(n / 10));
  const spec = (prefix: string, count: number, behaviour: DeviceSpec['behaviour']) =>
    fleetSpecs({ productKey: plan.productKey, count, prefix, version: FROM, behaviour });
  return {
    ok: spec('ok-', n - failing - declining - away, { kind: 'succeed', stepDelayMs: plan.stepDelayMs }),
    failing: spec('fail-', failing, { kind: 'fail', code: -2, stepsBefore: [20], stepDelayMs: plan.stepDelayMs }),
    declining: spec('decline-', declining, { kind: 'decline' }),
    away: spec('away-', away, { kind: 'succeed', stepDelayMs: plan.stepDelayMs }),
  };
}

export class Rollout {
  readonly groups: Groups;
  readonly fleet: Fleet;
  taskId = '';
  private firmwareId = '';

  constructor(
    private readonly stack: LaunchedStack,
    readonly plan: RolloutPlan,
  ) {
    this.groups = plannedGroups(plan);
    this.fleet = new Fleet(
      { url: stack.mqttUrl, maxConcurrentConnects: 50, requestTimeoutMs: 5000, autoReconnect: plan.reconnect },
      this.all,
    );
  }

  get all(): DeviceSpec[] {
    return Object.values(this.groups).flat();
  }

  /** Registers the fleet and a verified firmware, connects every device, and sends the away group away. */
  async prepare(): Promise<void> {
    const { stack, plan } = this;
    const created = await stack.api<{ created: number; failed: unknown[] }>('POST', '/v1/devices:batch', {
      devices: this.all.map((s) => ({
        productKey: s.productKey,
        deviceKey: s.deviceKey,
        deviceSecret: s.deviceSecret,
      })),
    });
    if (created.body.created !== this.all.length) throw new Error(`registration: ${JSON.stringify(created.body)}`);
    const fw = await stack.api<{ firmwareId: string }>('POST', '/v1/firmwares', {
      productKey: plan.productKey,
      version: TO,
      fileUrl: `https://files.example.com/${plan.productKey}-${TO}.bin`,
      fileSize: 4096,
      signMethod: 'md5',
      sign: '9e107d9d372bb6826bd81d3542a419d6',
    });
    if (fw.status !== 201) throw new Error(`firmware: ${fw.status} ${JSON.stringify(fw.body)}`);
    this.firmwareId = fw.body.firmwareId;
    // Verification on real devices has its own tests; this one is about processes dying mid-rollout.
    await markVerified(stack.mongodbUrl, this.firmwareId);

    await this.fleet.connect();
    await eventually(
      `${this.all.length} devices reporting ${FROM}`,
      () => this.devicesOn(FROM),
      (list) => list.length === this.all.length,
      60_000,
      250,
    );
    await Promise.all(keys(this.groups.away).map((k) => this.fleet.device(k).disconnect()));
    await eventually(
      'the away devices to be offline in the registry',
      () => this.onlineKeys(),
      (online) => keys(this.groups.away).every((k) => !online.has(k)),
      60_000,
      250,
    );
  }

  async startTask(): Promise<void> {
    const task = await this.stack.api<{ taskId: string }>('POST', '/v1/upgrade-tasks', {
      firmwareId: this.firmwareId,
      sourceVersions: [FROM],
      strategy: 'snapshot',
      scope: 'all',
      method: 'push',
      maxConcurrency: this.plan.maxConcurrency,
      // Far beyond the test: a device that times out has lost an event, not taken its time.
      upgradeTimeout: 3600,
    });
    if (task.status !== 201) throw new Error(`task: ${task.status} ${JSON.stringify(task.body)}`);
    this.taskId = task.body.taskId;
  }

  /** The away devices power up again: connect, and inform their version like the SDK samples at start. */
  bringBackAway(): void {
    for (const k of keys(this.groups.away)) {
      const device = this.fleet.device(k);
      void device.connect().then(async (ok) => {
        if (ok || (await device.whenOnline())) await device.inform(device.record.version);
      });
    }
  }

  async counts(): Promise<TaskCounts> {
    const r = await this.stack.api<TaskCounts>('GET', `/v1/upgrade-tasks/${this.taskId}`);
    if (r.status !== 200) throw new Error(`task ${this.taskId}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Devices with a final record (success or failure); 0 while the API cannot answer. */
  async finished(): Promise<number> {
    try {
      const c = await this.counts();
      return (c.counts.success ?? 0) + (c.counts.failure ?? 0);
    } catch {
      return 0;
    }
  }

  async records(): Promise<RecordItem[]> {
    const items: RecordItem[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await this.stack.api<{ items: RecordItem[]; nextCursor: string | null }>(
        'GET',
        `/v1/upgrade-tasks/${this.taskId}/devices?limit=500${q}`,
      );
      items.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    return items;
  }

  /** Device keys the registry has on `version`. */
  async devicesOn(version: string): Promise<string[]> {
    return (await this.registry(`version=${version}`)).map((d) => d.deviceKey).sort();
  }

  private async onlineKeys(): Promise<Set<string>> {
    return new Set((await this.registry('')).filter((d) => d.online).map((d) => d.deviceKey));
  }

  private async registry(query: string): Promise<{ deviceKey: string; online: boolean }[]> {
    const out: { deviceKey: string; online: boolean }[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await this.stack.api<{ items: { deviceKey: string; online: boolean }[]; nextCursor: string | null }>(
        'GET',
        `/v1/devices?productKey=${this.plan.productKey}&limit=500&${query}${q}`,
      );
      if (page.status !== 200) throw new Error(`devices: ${page.status} ${JSON.stringify(page.body)}`);
      out.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    return out;
  }
}

async function markVerified(url: string, firmwareId: string): Promise<void> {
  const client = new MongoClient(url);
  try {
    await client
      .db()
      .collection('firmwares')
      .updateOne({ firmwareId }, { $set: { verified: true } });
  } finally {
    await client.close();
  }
}
