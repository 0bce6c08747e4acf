/**
 * The embedded database answers the operator's reads from its indexes
 * (FerretDB with our SQLite pushdown patch). The same reads against a second
 * instance with the pushdown turned off must return exactly the same pages,
 * cursors and counts, over keys and values chosen to trip JSON-text ordering.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Db } from 'mongodb';
import { ensureAllIndexes } from '../../db/all-indexes';
import { byIdentity, devices } from '../../db/devices';
import { connectMongo, type Mongo } from '../../db/mongo';
import { onlineAmong } from '../../db/presence';
import { recordCountsByStatus } from '../../db/record-counts';
import { encodeListCursor } from '../../db/paging';
import { recordId, recordsCollection, type RecordDoc } from '../../db/records';
import { listRecords, listTasks } from '../../db/task-reads';
import { tasksCollection, type TaskDoc } from '../../db/tasks';
import type { RecordStatus } from '../../domain/types';
import { pingMongo, toolPaths } from '../../runtime/infra';
import { ManagedProcess } from '../../runtime/managed-process';
import { freePort, waitUntil } from '../../runtime/net';
import { seededTask } from '../../bench/read-figures';
import { testDb } from '../helpers/stack';

const STATUSES: RecordStatus[] = ['to_be_pushed', 'upgrading', 'success', 'failure', 'skipped'];
// Keys that order differently as JSON text if pushed naively: a space and '!' sort below
// the closing quote, and a prefix of another key.
const ODD_KEYS = ['d0005 ', 'd0005!', 'd0005a', 'd0005-x', 'D0005', 'd0005~'];
// Cursors no listing hands out (a client made them up): keys with what JSON escapes or reorders.
const MADE_UP_CURSOR_KEYS = [
  '["d0100"]',
  'd01 ',
  'd0150"',
  'd02\\',
  'd01<',
  'd01&',
  'd01\u007f',
  'd01\u2028',
  '\u0001',
  'd01é',
  '',
];

function records(taskId: string, n: number, odd: boolean): RecordDoc[] {
  const at = new Date(Date.UTC(2026, 10, 1));
  const keys = [...Array.from({ length: n }, (_, i) => `d${String(i).padStart(4, '0')}`), ...(odd ? ODD_KEYS : [])];
  return keys.map((deviceKey, i) => ({
    _id: recordId(taskId, deviceKey),
    taskId,
    productKey: 'pk',
    deviceKey,
    fromVersion: '1.0.0',
    toVersion: '2.0.0',
    status: STATUSES[(i * 7) % STATUSES.length],
    waitReason: null,
    progress: 0,
    failure: null,
    skipReason: null,
    attempts: 0,
    deviceOnline: i % 2 === 0,
    inWorkflow: false,
    timeline: [],
    createdAt: at,
    updatedAt: at,
  }));
}

async function seed(db: Db, odd: boolean): Promise<TaskDoc[]> {
  await ensureAllIndexes(db);
  const base = Date.UTC(2026, 10, 1);
  // Tasks created in the same millisecond in pairs, so the cursor's tie-break on taskId matters.
  const tasks = Array.from({ length: 45 }, (_, i) =>
    seededTask(`task-${String(44 - i).padStart(3, '0')}`, new Date(base + Math.floor(i / 2) * 1000), 'pk'),
  );
  tasks[3].firmwareId = 'fw-other';
  tasks[7].status = 'succeeded' as TaskDoc['status'];
  await tasksCollection(db).insertMany(tasks.map((t) => ({ ...t })));
  await recordsCollection(db).insertMany(records(tasks[0].taskId, 240, odd));
  await recordsCollection(db).insertMany(records(tasks[1].taskId, 30, odd));
  return tasks;
}

/** Every page of a listing, following its cursors. */
async function allPages<T>(page: (cursor?: string) => Promise<{ items: T[]; nextCursor: string | null }>) {
  const pages: Array<{ items: T[]; nextCursor: string | null }> = [];
  let cursor: string | undefined;
  do {
    const p = await page(cursor);
    pages.push(p);
    cursor = p.nextCursor ?? undefined;
  } while (cursor && pages.length < 100);
  return pages;
}

async function readsOf(db: Db, tasks: TaskDoc[]) {
  const task = tasks[0];
  const out: Record<string, unknown> = {};
  for (const status of [undefined, ...STATUSES, 'cancelled']) {
    for (const deviceKey of [undefined, 'd000', 'd0005', 'd01', 'zz']) {
      out[`records ${status} ${deviceKey}`] = await allPages((cursor) =>
        listRecords(db, task, { status, deviceKey, limit: 17, cursor }),
      );
    }
  }
  for (const key of MADE_UP_CURSOR_KEYS) {
    for (const status of [undefined, 'success']) {
      out[`records ${status} after made-up ${key}`] = await listRecords(db, task, {
        status,
        limit: 17,
        cursor: encodeListCursor([key]),
      });
    }
  }
  out.counts = await recordCountsByStatus(db, task.taskId);
  out.countsOther = await recordCountsByStatus(db, tasks[1].taskId);
  out.countsNone = await recordCountsByStatus(db, 'task-none');
  out.tasks = await allPages((cursor) => listTasks(db, { limit: 4, cursor }));
  out.tasksByStatus = await allPages((cursor) => listTasks(db, { status: 'running', limit: 5, cursor }));
  out.tasksByFirmware = await allPages((cursor) => listTasks(db, { firmwareId: 'fw-other', limit: 5, cursor }));
  return out;
}

describe('index pushdown parity', () => {
  let pushed: Mongo;
  let plain: Mongo;
  let plainDb: ManagedProcess;
  let dir: string;
  let dbs: Array<Mongo & { url: string }> = [];

  beforeAll(async () => {
    dbs = [await testDb('pushdown-parity'), await testDb('pushdown-parity-odd')];
    pushed = dbs[0];
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-parity-'));
    const port = await freePort();
    plainDb = new ManagedProcess({
      name: 'ferretdb-plain',
      command: toolPaths(process.env.OTA_TOOLS_DIR ?? '.tools').ferretdb,
      args: ['--listen-addr', `127.0.0.1:${port}`, '--sqlite-url', `file:${dir}/`],
      env: { ...process.env, FERRETDB_SQLITE_INDEX_PUSHDOWN: 'off' },
      logFile: path.join(dir, 'ferretdb.log'),
    });
    await waitUntil('the second database', () => pingMongo(`mongodb://127.0.0.1:${port}/`));
    plain = await connectMongo(`mongodb://127.0.0.1:${port}/ota`);
  });

  afterAll(async () => {
    for (const db of dbs) await db.close();
    await plain?.close();
    await plainDb?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['plain device keys', false],
    ['device keys that JSON text misorders', true],
  ])('returns the same pages, cursors and counts with and without pushdown: %s', async (_, odd) => {
    const db = odd ? dbs[1].db : pushed.db;
    const other = plain.db.client.db(`parity_${odd ? 'odd' : 'plain'}`);
    await other.dropDatabase();
    const tasks = await seed(db, odd);
    await seed(other, odd);
    const [a, b] = [await readsOf(db, tasks), await readsOf(other, tasks)];
    expect(a).toEqual(b);
    // The listing really pages, over every key.
    const all = a['records undefined undefined'] as Array<{ items: Array<{ deviceKey: string }> }>;
    expect(all.length).toBeGreaterThan(10);
    expect(all.flatMap((p) => p.items).length).toBe(240 + (odd ? ODD_KEYS.length : 0));
  });

  it('serves a status page from the index, sort and limit included', async () => {
    const explained = await recordsCollection(pushed.db)
      .find({ taskId: 'task-044', status: 'success', deviceKey: { $gt: 'd0100' } })
      .sort({ deviceKey: 1 })
      .limit(11)
      .explain();
    const text = JSON.stringify(explained);
    expect(text).toMatch(/USING (COVERING )?INDEX \S+taskId_1_status_1_deviceKey_1/);
    expect(explained).toMatchObject({ filterPushdown: true, sortPushdown: true, limitPushdown: true });
  });

  it('serves the waiting records a claim reads on from, in key order, from the index', async () => {
    for (const deviceKey of [{ $gt: 'd0100' }, { $gt: 'd0005', $lte: 'd0100' }]) {
      const explained = await recordsCollection(pushed.db)
        .find({ taskId: 'task-044', status: 'to_be_pushed', inWorkflow: false, deviceKey })
        .sort({ deviceKey: 1 })
        .limit(128)
        .explain();
      expect(JSON.stringify(explained)).toMatch(
        /USING (COVERING )?INDEX \S+taskId_1_status_1_inWorkflow_1_deviceKey_1/,
      );
      expect(explained).toMatchObject({ filterPushdown: true, sortPushdown: true, limitPushdown: true });
    }
  });

  it("reads many devices' presence in one query served by the _id index, with the same answer", async () => {
    const keys = [...Array.from({ length: 600 }, (_, i) => `d${i}`), ...ODD_KEYS, 'd0005"', 'ünï'];
    const answers = [];
    for (const db of [pushed.db.client.db('parity_presence'), plain.db.client.db('parity_presence')]) {
      await db.dropDatabase();
      await ensureAllIndexes(db);
      await devices(db).insertMany(
        keys.map((deviceKey, i) => ({
          ...byIdentity({ productKey: 'pk', deviceKey }),
          productKey: 'pk',
          deviceKey,
          online: i % 3 !== 0,
        })) as never,
      );
      // Asked for more than one query holds, some not registered, some of another product.
      const asked = [...keys.filter((_, i) => i % 2 === 0), 'missing', 'd1"', ...keys.slice(0, 3)];
      answers.push([...(await onlineAmong(db, 'pk', asked))].sort());
      expect([...(await onlineAmong(db, 'other', asked))]).toEqual([]);
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0].length).toBeGreaterThan(150);
    const ids = ['d1', 'd2', 'd0005"'].map((deviceKey) => byIdentity({ productKey: 'pk', deviceKey })._id);
    const explained = await devices(pushed.db.client.db('parity_presence'))
      .find({ _id: { $in: ids }, online: true })
      .explain();
    expect(JSON.stringify(explained)).toMatch(/SEARCH \S+ USING INDEX \S+__id_ /);
  });

  it('serves a page after a made-up cursor from the index too, not by reading every record', async () => {
    for (const key of MADE_UP_CURSOR_KEYS) {
      const explained = await recordsCollection(pushed.db)
        .find({ $and: [{ taskId: 'task-044' }, { status: 'success' }, { deviceKey: { $gt: key } }] })
        .sort({ deviceKey: 1 })
        .limit(101)
        .explain();
      expect({ key, ...explained }).toMatchObject({
        key,
        filterPushdown: true,
        sortPushdown: true,
        limitPushdown: true,
      });
    }
  });
});
