/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Functions passed to page.evaluate run in the browser, so these files see the DOM types too.
/**
 * The operators' page (/ui) in a real browser: Debian's Chromium, headless,
 * driven through puppeteer-core against the real API, whose tasks, records
 * and failures were made by simulated devices. Each run saves a screenshot
 * of every page to test-results/screenshots/.
 */
import * as http from 'node:http';
import { Connection } from '@temporalio/client';
import type { Browser } from 'puppeteer-core';
import { createApiApp } from '../../api/routes';
import { recordId, recordsCollection } from '../../db/records';
import { silentLogger } from '../../runtime/log';
import { Fleet, fleetSpecs, type Behaviour } from '../../simulator';
import { launchBrowser, openPage as openBrowserPage, type BrowserPage } from '../helpers/browser';
import { eventually } from '../helpers/eventually';
import { startServiceStack, type ServiceStack } from '../helpers/service-stack';

const PK = 'ui-pk';
const HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">task';
const HOSTILE_KEY = '<img src=x onerror="window.__pwned=1">';
const HOSTILE_REASON = '<b>flash</b> failed <script>window.__pwned=1</script>';

let browser: Browser;
let stack: ServiceStack;
let fleet: Fleet;
let taskId = ''; // snapshot push task: 1 success, 2 failures, 1 pushed and silent, 3 offline devices waiting
let hostileTaskId = ''; // a finished task holding one record with an untrusted key and reason
const pages: BrowserPage[] = [];

interface TaskAnswer {
  taskId: string;
  status: string;
  counts: Record<string, number>;
  total: number;
}

function expectStatus(res: { status: number; body: unknown }, status: number): void {
  if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
}

async function openPage(baseUrl: string, hash = ''): Promise<BrowserPage> {
  const page = await openBrowserPage(browser, `${baseUrl}/ui${hash}`);
  pages.push(page);
  return page;
}

const deviceKeys = (p: BrowserPage) => p.attrs('#records tbody tr[data-device-key]', 'data-device-key');
/** The task controls the page shows (hidden ones left out). */
const shownControls = (p: BrowserPage) =>
  p.page.evaluate(() =>
    [...document.querySelectorAll<HTMLButtonElement>('.actions button[data-action]')]
      .filter((b) => !b.hidden && b.offsetParent !== null)
      .map((b) => b.getAttribute('data-action')),
  );
const taskStatus = (id: string) => stack.api<TaskAnswer>('GET', `/v1/upgrade-tasks/${id}`);

// ---- The stack and its data, made through the API -------------------------

const quick = { stepDelayMs: 20 };
const group = (prefix: string, count: number, version: string, behaviour: Behaviour) =>
  fleetSpecs({ productKey: PK, count, prefix, version, behaviour });
const sims = [
  ...group('verifier-', 1, '0.9.0', { kind: 'succeed', ...quick }),
  ...group('ok-', 1, '1.0.0', { kind: 'succeed', ...quick }),
  ...group('fail-', 2, '1.0.0', { kind: 'fail', code: -2, ...quick }),
  // Takes the command and never answers: its upgrade stays active (pushed) for the whole suite.
  ...group('silent-', 1, '1.0.0', { kind: 'silent' }),
];
/** Registered on 1.0.0 but never connected: they wait to be pushed, as offline. In natural order (a2 before a10). */
const offline = ['wait-a2', 'wait-a10', 'wait-b1'];

beforeAll(async () => {
  browser = await launchBrowser();
  stack = await startServiceStack('ui');
  await stack.startWorker();
  const created = await stack.api('POST', '/v1/devices:batch', {
    devices: [
      ...sims.map((s) => ({ productKey: PK, deviceKey: s.deviceKey, deviceSecret: s.deviceSecret })),
      ...offline.map((deviceKey) => ({ productKey: PK, deviceKey, firmwareVersion: '1.0.0' })),
    ],
  });
  expect(created.body).toMatchObject({ created: sims.length + offline.length, failed: [] });
  fleet = new Fleet({ url: stack.mqttUrl }, sims);
  expect(await fleet.connect()).toBe(sims.length);
  await eventually(
    'the simulated devices to report their versions',
    () => stack.api<{ items: unknown[] }>('GET', `/v1/devices?productKey=${PK}&version=1.0.0`),
    (r) => r.body.items.length === 7,
  );

  const fw = await stack.api<{ firmwareId: string }>('POST', '/v1/firmwares', {
    productKey: PK,
    version: '2.0.0',
    fileUrl: '/ota/ui-2.0.0',
    fileSize: 1024,
    signMethod: 'md5',
    sign: '9E107D9D372BB6826BD81D3542A419D6',
  });
  expectStatus(fw, 201);
  const firmwareId = fw.body.firmwareId;
  expectStatus(
    await stack.api('POST', `/v1/firmwares/${firmwareId}/verification`, { deviceKeys: ['verifier-0'] }),
    202,
  );
  await eventually(
    'the firmware to be verified',
    () => stack.api<{ verified: boolean }>('GET', `/v1/firmwares/${firmwareId}`),
    (r) => r.body.verified,
  );

  const task = await stack.api<TaskAnswer>('POST', '/v1/upgrade-tasks', {
    name: 'ui rollout',
    firmwareId,
    sourceVersions: ['1.0.0'],
    strategy: 'snapshot',
    scope: 'all',
    method: 'push',
  });
  expectStatus(task, 201);
  taskId = task.body.taskId;
  await eventually(
    'the connected devices to finish',
    () => stack.api<TaskAnswer>('GET', `/v1/upgrade-tasks/${taskId}`),
    (r) =>
      r.body.counts.success === 1 &&
      r.body.counts.failure === 2 &&
      r.body.counts.to_be_pushed === 3 &&
      r.body.counts.pushed === 1,
  );

  // A task name may hold any text; a device key may not (the API refuses "<"), so that record is written directly.
  const hostile = await stack.api<TaskAnswer>('POST', '/v1/upgrade-tasks', {
    name: HOSTILE_NAME,
    firmwareId,
    sourceVersions: ['0.9.0'],
    strategy: 'snapshot',
    scope: 'target',
    filter: { deviceKeys: ['verifier-0'] },
    method: 'push',
  });
  expectStatus(hostile, 201);
  hostileTaskId = hostile.body.taskId;
  await stack.api('POST', `/v1/upgrade-tasks/${hostileTaskId}/cancel`); // 409 if it already completed: also fine
  await eventually(
    'the second task to finish',
    () => stack.api<TaskAnswer>('GET', `/v1/upgrade-tasks/${hostileTaskId}`),
    (r) => r.body.status === 'completed' || r.body.status === 'cancelled',
  );
  const at = new Date();
  await recordsCollection(stack.db.db).insertOne({
    _id: recordId(hostileTaskId, HOSTILE_KEY),
    taskId: hostileTaskId,
    productKey: PK,
    deviceKey: HOSTILE_KEY,
    fromVersion: '1.0.0',
    toVersion: '2.0.0',
    status: 'failure',
    waitReason: null,
    progress: 20,
    failure: { code: '-2', reason: HOSTILE_REASON },
    skipReason: null,
    attempts: 1,
    timeline: [{ at: at.toISOString(), event: 'failed', detail: HOSTILE_REASON }],
    inWorkflow: false,
    createdAt: at,
    updatedAt: at,
  });
}, 120_000);

afterEach(async () => {
  for (const p of pages.splice(0)) {
    await p.page.close();
    expect(p.errors).toEqual([]);
  }
});

afterAll(async () => {
  await browser?.close();
  await fleet?.close();
  await stack?.stop();
});

describe('the operators page in Chromium', () => {
  it('is served with a strict Content-Security-Policy, no-cache and the right content types', async () => {
    const types: Record<string, string> = {
      '/ui': 'text/html',
      '/ui/': 'text/html',
      '/ui/lib.js': 'text/javascript',
      '/ui/charts.js': 'text/javascript',
      '/ui/views.js': 'text/javascript',
      '/ui/task-detail.js': 'text/javascript',
      '/ui/fleet.js': 'text/javascript',
      '/ui/app.js': 'text/javascript',
      '/ui/style.css': 'text/css',
    };
    for (const [path, type] of Object.entries(types)) {
      const res = await fetch(`${stack.apiUrl}${path}`);
      expect([path, res.status, res.headers.get('content-type')]).toEqual([path, 200, `${type}; charset=utf-8`]);
      const csp = res.headers.get('content-security-policy') ?? '';
      for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'"]) {
        expect(csp).toContain(directive);
      }
      expect(csp).not.toMatch(/unsafe|\*|https?:/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    // The CSP forbids inline code, so the page must have none (the browser would also log a violation).
    const html = await (await fetch(`${stack.apiUrl}/ui`)).text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=/i);

    const root = await fetch(`${stack.apiUrl}/`, { redirect: 'manual' });
    expect([root.status, root.headers.get('location')]).toEqual([302, '/ui']);
    for (const path of ['/ui/nope.js', '/ui/%2e%2e%2fpackage.json', '/ui/index.ts']) {
      expect([path, (await fetch(`${stack.apiUrl}${path}`)).status]).toEqual([path, 404]);
    }
  });

  it('lists the tasks created through the API, newest first, with paging', async () => {
    const p = await openPage(stack.apiUrl);
    const rows = await p.waitFor(
      'the task list',
      () => p.rows('tasks'),
      (r) => r.length === 3,
    );
    await p.screenshot('task-list');
    const at = (id: string) => rows.findIndex((r) => r.includes(id));
    expect(at(hostileTaskId)).toBeLessThan(at(taskId));
    expect(rows[at(taskId)]).toMatch(/ui rollout.*running.*snapshot \/ push.*2\.0\.0/s);
    expect(rows.filter((r) => r.includes('verification'))).toHaveLength(1);

    await p.go('#/tasks?limit=2');
    const first = await p.waitFor(
      'a page of two',
      () => p.rows('tasks'),
      (r) => r.length === 2,
    );
    expect(first).toEqual(rows.slice(0, 2));
    await p.page.click('.pager a[data-focus-key="pager:next"]');
    const older = await p.waitFor(
      'the older page',
      () => p.rows('tasks'),
      (r) => r.length === 1,
    );
    expect(older).toEqual(rows.slice(2));
    expect(await p.page.evaluate(() => location.hash)).toMatch(/^#\/tasks\?limit=2&cursor=/);
  });

  it('shows a task’s status, progress, its course over time and counts per record status, keys in natural order', async () => {
    const p = await openPage(stack.apiUrl, `#/tasks/${taskId}`);
    await p.waitFor(
      'the progress',
      () => p.text('#progress-label'),
      (t) => t === '3 of 7 finished (42%)',
    );
    await p.screenshot('task-detail');
    expect(
      await p.page.$eval('#progress', (b) => [(b as HTMLProgressElement).value, (b as HTMLProgressElement).max]),
    ).toEqual([3, 7]);
    expect(await p.text('#task-status')).toContain('running');
    expect(await p.text('h1')).toBe('ui rollout');
    expect(await p.page.$$eval('#tabs [role="tab"]', (tabs) => tabs.map((a) => a.textContent))).toEqual([
      'All (7)',
      'To be pushed (3)',
      'Pushed (1)',
      'Upgrading (0)',
      'Success (1)',
      'Failure (2)',
      'Skipped (0)',
      'Cancelled (0)',
    ]);
    expect(await p.text('#tabs [aria-selected="true"]')).toBe('All (7)');
    // The API pages in text order (wait-a10 before wait-a2); the page shows them as people count.
    expect(await deviceKeys(p)).toEqual(['fail-0', 'fail-1', 'ok-0', 'silent-0', ...offline]);
    // The course: a success and a failure line, scaled to the task's total, sampled while the page is open.
    const course = await p.page.$eval('#progress-course', (f) => ({
      lines: [...f.querySelectorAll('svg polyline')].map((l) => l.getAttribute('class')),
      caption: f.querySelector('figcaption')?.textContent ?? '',
    }));
    expect(course.lines).toEqual(['spark-success', 'spark-failure']);
    expect(course.caption).toMatch(/1 succeeded .*2 failed — sampled at each refresh since/);
  });

  it('offers only the controls the task’s status allows', async () => {
    const running = await openPage(stack.apiUrl, `#/tasks/${taskId}`);
    await running.waitFor(
      'the running task',
      () => running.text('#task-status'),
      (t) => t.includes('running'),
    );
    expect(await shownControls(running)).toEqual(['pause', 'cancel', 'retry']);

    const finished = await openPage(stack.apiUrl, `#/tasks/${hostileTaskId}`);
    await finished.waitFor(
      'the finished task',
      () => finished.text('#task-status'),
      (t) => t.length > 0,
    );
    expect(await shownControls(finished)).toEqual([]);
  });

  it('lists the failed devices with code and reason on the failure tab, and the waiting ones with why', async () => {
    const p = await openPage(stack.apiUrl, `#/tasks/${taskId}`);
    await p.waitFor(
      'the tabs',
      () => p.attrs('#tabs [data-status="failure"]', 'href'),
      (a) => a.length === 1,
    );
    await p.page.click('#tabs [data-status="failure"]');
    await p.waitFor(
      'the failure tab',
      async () => (await deviceKeys(p)).join(),
      (k) => k === 'fail-0,fail-1',
    );
    await p.screenshot('task-failure-tab');
    expect(await p.page.evaluate(() => location.hash)).toBe(`#/tasks/${taskId}?status=failure`);
    expect(await p.text('#tabs [aria-selected="true"]')).toBe('Failure (2)');
    for (const row of await p.rows('records')) expect(row).toMatch(/1\.0\.0 → 2\.0\.0.*failure.*-2: /s);

    await p.page.click('#tabs [data-status="to_be_pushed"]');
    await p.waitFor(
      'the waiting tab',
      async () => (await deviceKeys(p)).join(),
      (k) => k === offline.join(),
    );
    for (const row of await p.rows('records')) expect(row).toContain('offline');
  });

  it('filters the tab’s records by deviceKey and pages through them', async () => {
    const p = await openPage(stack.apiUrl, `#/tasks/${taskId}?status=to_be_pushed`);
    await p.waitFor('the waiting tab', async () => (await deviceKeys(p)).length === 3);
    await p.page.type('#search input[name="deviceKey"]', 'wait-a');
    await p.page.click('#search button[type="submit"]');
    await p.waitFor(
      'the search',
      async () => (await deviceKeys(p)).join(),
      (k) => k === 'wait-a2,wait-a10',
    );
    await p.screenshot('task-search');
    expect(await p.page.evaluate(() => location.hash)).toBe(`#/tasks/${taskId}?status=to_be_pushed&deviceKey=wait-a`);

    await p.go(`#/tasks/${taskId}?status=to_be_pushed&limit=2`);
    await p.waitFor(
      'a page with a next link',
      () => p.attrs('.pager a', 'href'),
      (a) => a.length === 1,
    );
    expect(await deviceKeys(p)).toEqual(['wait-a2', 'wait-a10']);
    await p.page.click('.pager a[data-focus-key="pager:next"]');
    await p.waitFor(
      'the next page',
      async () => (await deviceKeys(p)).join(),
      (k) => k === 'wait-b1',
    );
  });

  it('opens a record’s timeline from the list', async () => {
    const p = await openPage(stack.apiUrl, `#/tasks/${taskId}?status=failure`);
    await p.waitFor('the failure tab', async () => (await deviceKeys(p)).length === 2);
    await p.page.click('#records tr[data-device-key="fail-0"] td:nth-child(3)'); // anywhere on the row
    const expected = await stack.api<{ timeline: Array<{ event: string }> }>(
      'GET',
      `/v1/upgrade-tasks/${taskId}/devices/fail-0`,
    );
    expect(expected.body.timeline.length).toBeGreaterThan(1);
    const rows = await p.waitFor(
      'the timeline',
      () => p.rows('timeline'),
      (r) => r.length > 0,
    );
    await p.screenshot('record');
    expect(await p.text('h1')).toBe('fail-0');
    expect(rows.map((r, i) => r.includes(expected.body.timeline[i].event))).toEqual(rows.map(() => true));
    expect(rows).toHaveLength(expected.body.timeline.length);
    expect(await p.text('.summary')).toMatch(/failure.*-2: /s);
    expect(await shownControls(p)).toEqual([]); // a failed device cannot be cancelled
  });

  it('is usable by keyboard: rows and tabs take the focus, Enter and Space open them, a refresh keeps the focus', async () => {
    const p = await openPage(stack.apiUrl);
    await p.waitFor('the task list', async () => (await p.rows('tasks')).length === 3);
    // Tab from the top of the page to the task's row: the header's controls, the filter, then the rows.
    let presses = 0;
    while ((await p.focused()) !== `task:${taskId}` && presses < 20) {
      await p.page.keyboard.press('Tab');
      presses += 1;
    }
    expect(await p.focused()).toBe(`task:${taskId}`);
    await p.page.keyboard.press('Enter');
    await p.waitFor(
      'the task',
      () => p.text('#progress-label'),
      (t) => t.length > 0,
    );
    expect(await p.focused()).toBe('h1'); // the new view's heading, so Tab goes on from the top of it

    while ((await p.focused()) !== 'tab:' && presses < 60) {
      await p.page.keyboard.press('Tab');
      presses += 1;
    }
    expect(await p.focused()).toBe('tab:'); // one tab stop for the tab list: the open tab
    await p.page.keyboard.press('ArrowRight');
    expect(await p.focused()).toBe('tab:to_be_pushed');
    await p.page.keyboard.press(' ');
    await p.waitFor(
      'the waiting tab',
      async () => (await deviceKeys(p)).join(),
      (k) => k === offline.join(),
    );
    expect(await p.focused()).toBe('tab:to_be_pushed'); // the new view gives the focus back to the same tab

    await p.page.keyboard.press('Tab'); // the search field, its button, then the first row
    await p.page.keyboard.press('Tab');
    await p.page.keyboard.press('Tab');
    expect(await p.focused()).toBe('device:wait-a2');
    await p.page.keyboard.press('ArrowDown'); // rows are not a list box: arrows scroll, Tab moves
    await p.page.keyboard.press('Tab');
    expect(await p.focused()).toBe('device:wait-a10');
    const before = await p.text('#refreshed');
    await p.waitFor(
      'a refresh',
      () => p.text('#refreshed'),
      (t) => t !== before,
    );
    expect(await p.focused()).toBe('device:wait-a10');
    await p.screenshot('keyboard-focus');
    await p.page.keyboard.press('Enter');
    await p.waitFor(
      'the record',
      () => p.text('#record-status'),
      (t) => t.includes('to_be_pushed'),
    );
    expect(await p.text('h1')).toBe('wait-a10');
    expect(await shownControls(p)).toEqual(['cancel-device']); // still waiting: it can be cancelled
  });

  it('shows the fleet of a product per firmware version as a bar chart and a table', async () => {
    const p = await openPage(stack.apiUrl, '#/fleet');
    await p.waitFor(
      'the products',
      () => p.attrs('#fleet-known a', 'href'),
      (a) => a.length === 1,
    );
    await p.page.click('#fleet-known a');
    const rows = await p.waitFor(
      'the versions',
      () => p.rows('versions'),
      (r) => r.length === 2,
    );
    await p.screenshot('fleet');
    const api = await stack.api<{
      total: number;
      online: number;
      upgrading: number;
      versions: Array<{ version: string; total: number; online: number; offline: number; upgrading: number }>;
    }>('GET', `/v1/products/${PK}/versions`);
    // The silent device holds its command: one active upgrade, counted under the version it still reports.
    const expected = [
      ['2.0.0', 2, 2, 0, 0],
      ['1.0.0', 6, 3, 3, 1],
    ];
    expect(api.body.versions.map((v) => [v.version, v.total, v.online, v.offline, v.upgrading])).toEqual(expected);
    expect(rows.map((r) => r.split('\t'))).toEqual(expected.map((v) => v.map(String)));
    expect(await p.text('#fleet-summary')).toBe('8 device(s): 5 online, 3 offline, 1 in an active upgrade.');
    // One bar per version, its online, offline and upgrading parts in proportion to the counts.
    const bars = await p.page.$$eval('#fleet-chart svg g[data-version]', (gs) =>
      gs.map((g) => ({
        version: g.getAttribute('data-version'),
        online: Number(g.querySelector('.bar-online')?.getAttribute('width')),
        offline: Number(g.querySelector('.bar-offline')?.getAttribute('width')),
        upgrading: Number(g.querySelector('.bar-upgrading')?.getAttribute('width')),
      })),
    );
    expect(bars.map((b) => b.version)).toEqual(['2.0.0', '1.0.0']);
    const unit = bars[0].online / 2;
    expect(unit).toBeGreaterThan(0);
    expect(bars.map((b) => [b.online / unit, b.offline / unit, b.upgrading / unit])).toEqual([
      [2, 0, 0],
      [3, 3, 1],
    ]);
    expect(await p.page.evaluate(() => location.hash)).toBe(`#/fleet?productKey=${PK}`);
  });

  it('pauses and resumes the task with its buttons, each shown only when it applies', async () => {
    const p = await openPage(stack.apiUrl, `#/tasks/${taskId}`);
    await p.waitFor('the task', async () => (await p.text('#task-status')).includes('running'));
    await p.page.click('button[data-action="pause"]');
    await eventually(
      'the task to be paused',
      () => taskStatus(taskId),
      (r) => r.body.status === 'paused',
    );
    // The page refreshes itself: no reload, no click.
    await p.waitFor('the page to show it', async () => (await p.text('#task-status')).includes('paused'));
    expect(await p.text('#action-message')).toBe('Pause sent.');
    expect(await shownControls(p)).toEqual(['resume', 'cancel', 'retry']);
    await p.screenshot('task-paused');

    await p.page.click('button[data-action="resume"]');
    await eventually(
      'the task to run again',
      () => taskStatus(taskId),
      (r) => r.body.status === 'running',
    );
    await p.waitFor('the page to show it', async () => (await p.text('#task-status')).includes('running'));
    expect(await shownControls(p)).toEqual(['pause', 'cancel', 'retry']);
  });

  it('renders untrusted names, device keys and reasons as text, never as HTML', async () => {
    const p = await openPage(stack.apiUrl);
    await p.waitFor('the task list', async () => (await p.rows('tasks')).length === 3);
    expect(await p.text(`#tasks tr[data-task-id="${hostileTaskId}"] a`)).toBe(HOSTILE_NAME);

    await p.page.click(`#tasks tr[data-task-id="${hostileTaskId}"] a`);
    await p.waitFor('the record', async () => (await deviceKeys(p)).length === 1);
    expect(await deviceKeys(p)).toEqual([HOSTILE_KEY]);
    expect(await p.text('#records td.failure')).toBe(`-2: ${HOSTILE_REASON}`);
    expect(await p.text('h1')).toBe(HOSTILE_NAME);
    await p.screenshot('hostile-text');

    await p.page.click('#records tbody a');
    await p.waitFor('the timeline', async () => (await p.rows('timeline')).length === 1);
    expect(await p.text('h1')).toBe(HOSTILE_KEY);
    expect(await p.text('#timeline tbody')).toContain(HOSTILE_REASON);
    expect(await p.page.$$eval('#view img, #view script, #view b', (els) => els.length)).toBe(0);
    expect(await p.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  });

  it('retries the failed devices with its button', async () => {
    const p = await openPage(stack.apiUrl, `#/tasks/${taskId}`);
    await p.waitFor('the task', async () => (await p.text('#task-status')).includes('running'));
    await p.page.click('button[data-action="retry"]');
    await p.waitFor(
      'the answer',
      () => p.text('#action-message'),
      (t) => t === '2 failed device(s) will be pushed again.',
    );
    await eventually(
      'the failed devices to be pushed again',
      () => stack.api<{ timeline: Array<{ event: string }> }>('GET', `/v1/upgrade-tasks/${taskId}/devices/fail-1`),
      (r) => r.body.timeline.some((e) => e.event === 'retry requested'),
    );
  });

  it('cancels the task after asking, then offers no control; a stale page shows the API’s refusal', async () => {
    const stale = await openPage(stack.apiUrl, `#/tasks/${taskId}`);
    await stale.waitFor('the task', async () => (await stale.text('#task-status')).includes('running'));
    // This page stops refreshing, as if the operator acted on it just before its next refresh.
    await stale.page.evaluate(() => {
      const last = window.setInterval(() => undefined, 1e9);
      for (let id = 0; id <= last; id++) window.clearInterval(id);
    });

    const p = await openPage(stack.apiUrl, `#/tasks/${taskId}`);
    await p.waitFor('the task', async () => (await p.text('#task-status')).includes('running'));
    const questions: string[] = [];
    p.page.on('dialog', (dialog) => {
      questions.push(dialog.message());
      void dialog.accept();
    });
    await p.page.click('button[data-action="cancel"]');
    await eventually(
      'the task to be cancelled',
      () => taskStatus(taskId),
      (r) => r.body.status === 'cancelled',
    );
    expect(questions).toEqual([`Cancel upgrade task ${taskId}? No device is pushed after this.`]);
    await p.waitFor('the page to show it', async () => (await p.text('#task-status')).includes('cancelled'));
    expect(await shownControls(p)).toEqual([]);
    await p.screenshot('task-cancelled');

    await stale.page.bringToFront(); // a tab in the background is not painted, so a click could not land
    expect(await shownControls(stale)).toContain('pause');
    await stale.page.click('button[data-action="pause"]');
    const refused = await stack.api<{ error: { message: string } }>('POST', `/v1/upgrade-tasks/${taskId}/pause`);
    expectStatus(refused, 409);
    await stale.waitFor(
      'the message',
      () => stale.attrs('#action-message.error', 'class'),
      (a) => a.length === 1,
    );
    expect(await stale.text('#action-message')).toBe(`Pause failed: ${refused.body.error.message}`);
    await stale.screenshot('action-refused');
  });

  it('asks for a token when the API needs one, and works once given it', async () => {
    const token = 'ui-test-token';
    const connection = await Connection.connect({ address: stack.config.temporalAddress });
    const app = await createApiApp({
      config: { ...stack.config, apiToken: token, gatewayUrl: stack.gateway.httpUrl },
      db: stack.db.db,
      temporal: connection,
      log: silentLogger,
    });
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      expect((await fetch(`${url}/ui`)).status).toBe(200); // the page itself is public
      expect((await fetch(`${url}/v1/upgrade-tasks`)).status).toBe(401);

      const p = await openPage(url);
      const notice = () => p.page.$eval('#notice', (n) => ((n as HTMLElement).hidden ? '' : (n.textContent ?? '')));
      await p.waitFor('the token notice', notice, (t) => t.length > 0);
      expect(await notice()).toMatch(/token is needed/);
      expect(await p.focused()).toBe('input'); // the token field, ready to type into
      expect(await p.rows('tasks')).toEqual([]);
      await p.screenshot('token-needed');

      await p.page.type('#token', 'not-the-token');
      await p.page.keyboard.press('Enter');
      await p.waitFor('the refusal', notice, (t) => t.includes('wrong bearer token'));

      await p.page.$eval('#token', (i) => ((i as HTMLInputElement).value = ''));
      await p.page.type('#token', token);
      await p.page.click('#token-form button[type="submit"]');
      await p.waitFor('the task list', async () => (await p.rows('tasks')).length === 3);
      expect(await notice()).toBe('');
      expect(await p.page.evaluate(() => localStorage.getItem('ota.apiToken'))).toBe(token);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await connection.close();
    }
  });
});
