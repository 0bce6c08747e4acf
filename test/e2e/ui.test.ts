/**
 * The operators' page (/ui) on the real stack: jsdom loads the served HTML and
 * runs the served scripts, whose fetches reach the real API; the tasks, records
 * and failures they show were made through the API by simulated devices.
 */
import * as http from 'node:http';
import { Connection } from '@temporalio/client';
import { JSDOM, VirtualConsole } from 'jsdom';
import { createApiApp } from '../../api/routes';
import { recordId, recordsCollection } from '../../db/records';
import { silentLogger } from '../../runtime/log';
import { Fleet, fleetSpecs, type Behaviour } from '../../simulator';
import { eventually } from '../helpers/eventually';
import { startServiceStack, type ServiceStack } from '../helpers/service-stack';

const PK = 'ui-pk';
const HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">task';
const HOSTILE_KEY = '<img src=x onerror="window.__pwned=1">';
const HOSTILE_REASON = '<b>flash</b> failed <script>window.__pwned=1</script>';

let stack: ServiceStack;
let fleet: Fleet;
let taskId = ''; // snapshot push task: 1 success, 2 failures, 3 offline devices waiting
let hostileTaskId = ''; // a finished task holding one record with an untrusted key and reason
const pages: Page[] = [];

interface TaskAnswer {
  taskId: string;
  status: string;
  counts: Record<string, number>;
  total: number;
}

function expectStatus(res: { status: number; body: unknown }, status: number): void {
  if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
}

// ---- A browser: the served page in jsdom ----------------------------------

interface Page {
  dom: JSDOM;
  doc: Document;
  /** Script errors the page raised (a broken page fails the test that opened it). */
  errors: string[];
  text(selector: string): string;
  rows(table: string): string[];
  click(selector: string): void;
  go(hash: string): void;
  waitFor<T>(what: string, fn: () => T, ok?: (v: T) => boolean): Promise<T>;
}

async function openPage(baseUrl: string, hash = ''): Promise<Page> {
  const errors: string[] = [];
  const virtualConsole = new VirtualConsole();
  virtualConsole.on('jsdomError', (e) => errors.push(e.message));
  const dom = await JSDOM.fromURL(`${baseUrl}/ui${hash}`, {
    runScripts: 'dangerously',
    resources: 'usable', // the page's own <script src> and stylesheet, fetched from the API
    pretendToBeVisual: true,
    virtualConsole,
    beforeParse(window) {
      // jsdom has no fetch: lend it Node's, resolving the page's relative URLs against the API.
      window.fetch = (input: RequestInfo | URL, init?: RequestInit) => fetch(new URL(String(input), baseUrl), init);
    },
  });
  const doc = dom.window.document;
  const el = (selector: string): HTMLElement => {
    const found = doc.querySelector<HTMLElement>(selector);
    if (!found) throw new Error(`no ${selector} on the page: ${doc.getElementById('view')?.textContent ?? ''}`);
    return found;
  };
  const page: Page = {
    dom,
    doc,
    errors,
    text: (selector) => doc.querySelector(selector)?.textContent ?? '',
    rows: (table) => [...doc.querySelectorAll(`#${table} tbody tr`)].map((tr) => tr.textContent ?? ''),
    click: (selector) => el(selector).click(),
    go: (h) => {
      dom.window.location.hash = h;
    },
    waitFor: (what, fn, ok = Boolean) => eventually(what, fn, ok, 10_000),
  };
  pages.push(page);
  return page;
}

const deviceKeys = (page: Page) =>
  [...page.doc.querySelectorAll('#records tbody tr[data-device-key]')].map((tr) => tr.getAttribute('data-device-key'));

// ---- The stack and its data, made through the API -------------------------

const quick = { stepDelayMs: 20 };
const group = (prefix: string, count: number, version: string, behaviour: Behaviour) =>
  fleetSpecs({ productKey: PK, count, prefix, version, behaviour });
const sims = [
  ...group('verifier-', 1, '0.9.0', { kind: 'succeed', ...quick }),
  ...group('ok-', 1, '1.0.0', { kind: 'succeed', ...quick }),
  ...group('fail-', 2, '1.0.0', { kind: 'fail', code: -2, ...quick }),
];
/** Registered on 1.0.0 but never connected: they wait to be pushed, as offline. */
const offline = ['wait-a0', 'wait-a1', 'wait-b0'];

beforeAll(async () => {
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
    (r) => r.body.items.length === 6,
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
    (r) => r.body.counts.success === 1 && r.body.counts.failure === 2 && r.body.counts.to_be_pushed === 3,
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

afterEach(() => {
  for (const page of pages.splice(0)) {
    page.dom.window.close();
    expect(page.errors).toEqual([]);
  }
});

afterAll(async () => {
  await fleet?.close();
  await stack?.stop();
});

describe('the operators page', () => {
  it('is served with a strict Content-Security-Policy, no-cache and the right content types', async () => {
    const types: Record<string, string> = {
      '/ui': 'text/html',
      '/ui/': 'text/html',
      '/ui/lib.js': 'text/javascript',
      '/ui/views.js': 'text/javascript',
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
    // The CSP forbids inline code, so the page must have none.
    const html = await (await fetch(`${stack.apiUrl}/ui`)).text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=/i);

    const root = await fetch(`${stack.apiUrl}/`, { redirect: 'manual' });
    expect([root.status, root.headers.get('location')]).toEqual([302, '/ui']);
    for (const path of ['/ui/nope.js', '/ui/%2e%2e%2fpackage.json', '/ui/index.ts']) {
      expect([path, (await fetch(`${stack.apiUrl}${path}`)).status]).toEqual([path, 404]);
    }
  });

  it('lists the tasks created through the API, newest first, with paging', async () => {
    const page = await openPage(stack.apiUrl);
    const rows = await page.waitFor(
      'the task list',
      () => page.rows('tasks'),
      (r) => r.length === 3,
    );
    const at = (id: string) => rows.findIndex((r) => r.includes(id));
    expect(at(hostileTaskId)).toBeLessThan(at(taskId));
    expect(rows[at(taskId)]).toMatch(/ui rollout.*running.*snapshot \/ push.*2\.0\.0/);
    expect(rows.filter((r) => r.includes('verification'))).toHaveLength(1);

    page.go('#/tasks?limit=2');
    const first = await page.waitFor(
      'a page of two',
      () => page.rows('tasks'),
      (r) => r.length === 2,
    );
    expect(first).toEqual(rows.slice(0, 2));
    page.click('.pager a:last-child');
    const older = await page.waitFor(
      'the older page',
      () => page.rows('tasks'),
      (r) => r.length === 1,
    );
    expect(older).toEqual(rows.slice(2));
    expect(page.dom.window.location.hash).toMatch(/^#\/tasks\?limit=2&cursor=/);
  });

  it('shows a task’s status, progress bar and counts per record status', async () => {
    const page = await openPage(stack.apiUrl, `#/tasks/${taskId}`);
    await page.waitFor(
      'the progress',
      () => page.text('#progress-label'),
      (t) => t === '3 of 6 finished (50%)',
    );
    const bar = page.doc.querySelector('#progress') as HTMLProgressElement;
    expect([bar.value, bar.max]).toEqual([3, 6]);
    expect(page.text('#task-status')).toContain('running');
    expect(page.text('h1')).toBe('ui rollout');
    const tabs = [...page.doc.querySelectorAll('#tabs a')].map((a) => a.textContent);
    expect(tabs).toEqual([
      'All (6)',
      'To be pushed (3)',
      'Pushed (0)',
      'Upgrading (0)',
      'Success (1)',
      'Failure (2)',
      'Skipped (0)',
      'Cancelled (0)',
    ]);
    expect(page.text('#tabs a[aria-current="page"]')).toBe('All (6)');
    expect(deviceKeys(page)).toEqual(['fail-0', 'fail-1', 'ok-0', ...offline]);
  });

  it('lists the failed devices with code and reason on the failure tab, and the waiting ones with why', async () => {
    const page = await openPage(stack.apiUrl, `#/tasks/${taskId}`);
    await page.waitFor('the tabs', () => page.doc.querySelector('#tabs a[data-status="failure"]'));
    page.click('#tabs a[data-status="failure"]');
    await page.waitFor(
      'the failure tab',
      () => deviceKeys(page).join(),
      (k) => k === 'fail-0,fail-1',
    );
    expect(page.dom.window.location.hash).toBe(`#/tasks/${taskId}?status=failure`);
    expect(page.text('#tabs a[aria-current="page"]')).toBe('Failure (2)');
    for (const row of page.rows('records')) expect(row).toMatch(/1\.0\.0 → 2\.0\.0.*failure.*-2: /);

    page.click('#tabs a[data-status="to_be_pushed"]');
    await page.waitFor(
      'the waiting tab',
      () => deviceKeys(page).join(),
      (k) => k === offline.join(),
    );
    for (const row of page.rows('records')) expect(row).toContain('offline');
  });

  it('filters the tab’s records by deviceKey and pages through them', async () => {
    const page = await openPage(stack.apiUrl, `#/tasks/${taskId}?status=to_be_pushed`);
    await page.waitFor('the waiting tab', () => deviceKeys(page).length === 3);
    (page.doc.querySelector('#search input[name="deviceKey"]') as HTMLInputElement).value = 'wait-a';
    page.click('#search button[type="submit"]');
    await page.waitFor(
      'the search',
      () => deviceKeys(page).join(),
      (k) => k === 'wait-a0,wait-a1',
    );
    expect(page.dom.window.location.hash).toBe(`#/tasks/${taskId}?status=to_be_pushed&deviceKey=wait-a`);

    page.go(`#/tasks/${taskId}?status=to_be_pushed&limit=2`);
    await page.waitFor('a page with a next link', () => page.doc.querySelector('.pager a'));
    expect(deviceKeys(page)).toEqual(['wait-a0', 'wait-a1']);
    page.click('.pager a:last-child');
    await page.waitFor(
      'the next page',
      () => deviceKeys(page).join(),
      (k) => k === 'wait-b0',
    );
  });

  it('opens a record’s timeline from the list', async () => {
    const page = await openPage(stack.apiUrl, `#/tasks/${taskId}?status=failure`);
    await page.waitFor('the failure tab', () => deviceKeys(page).length === 2);
    page.click('#records tr[data-device-key="fail-0"] a');
    const expected = await stack.api<{ timeline: Array<{ event: string }> }>(
      'GET',
      `/v1/upgrade-tasks/${taskId}/devices/fail-0`,
    );
    expect(expected.body.timeline.length).toBeGreaterThan(1);
    const rows = await page.waitFor(
      'the timeline',
      () => page.rows('timeline'),
      (r) => r.length > 0,
    );
    expect(page.text('h1')).toBe('fail-0');
    expect(rows.map((r, i) => r.includes(expected.body.timeline[i].event))).toEqual(rows.map(() => true));
    expect(rows).toHaveLength(expected.body.timeline.length);
    expect(page.text('.summary')).toMatch(/failure.*-2: /);
  });

  it('pauses and resumes the task with its buttons', async () => {
    const page = await openPage(stack.apiUrl, `#/tasks/${taskId}`);
    await page.waitFor('the task', () => page.text('#task-status').includes('running'));
    page.click('button[data-action="pause"]');
    await eventually(
      'the task to be paused',
      () => stack.api<TaskAnswer>('GET', `/v1/upgrade-tasks/${taskId}`),
      (r) => r.body.status === 'paused',
    );
    // The page refreshes itself: no reload, no click.
    await page.waitFor('the page to show it', () => page.text('#task-status').includes('paused'));
    expect(page.text('#action-message')).toBe('Pause sent.');

    page.click('button[data-action="resume"]');
    await eventually(
      'the task to run again',
      () => stack.api<TaskAnswer>('GET', `/v1/upgrade-tasks/${taskId}`),
      (r) => r.body.status === 'running',
    );
    await page.waitFor('the page to show it', () => page.text('#task-status').includes('running'));
  });

  it('shows the API’s error message when an action is refused', async () => {
    const page = await openPage(stack.apiUrl, `#/tasks/${hostileTaskId}`);
    await page.waitFor('the task', () => page.text('#task-status'));
    page.click('button[data-action="pause"]');
    const refused = await stack.api<{ error: { message: string } }>('POST', `/v1/upgrade-tasks/${hostileTaskId}/pause`);
    expectStatus(refused, 409);
    await page.waitFor('the message', () => page.doc.querySelector('#action-message.error'));
    expect(page.text('#action-message')).toBe(`Pause failed: ${refused.body.error.message}`);
  });

  it('renders untrusted names, device keys and reasons as text, never as HTML', async () => {
    const page = await openPage(stack.apiUrl);
    await page.waitFor('the task list', () => page.rows('tasks').length === 3);
    expect(page.text(`#tasks tr[data-task-id="${hostileTaskId}"] a`)).toBe(HOSTILE_NAME);

    page.click(`#tasks tr[data-task-id="${hostileTaskId}"] a`);
    await page.waitFor('the record', () => deviceKeys(page).length === 1);
    expect(deviceKeys(page)).toEqual([HOSTILE_KEY]);
    expect(page.text('#records td.failure')).toBe(`-2: ${HOSTILE_REASON}`);
    expect(page.text('h1')).toBe(HOSTILE_NAME);

    page.click('#records tbody a');
    await page.waitFor('the timeline', () => page.rows('timeline').length === 1);
    expect(page.text('h1')).toBe(HOSTILE_KEY);
    expect(page.text('#timeline tbody')).toContain(HOSTILE_REASON);
    expect(page.doc.querySelectorAll('#view img, #view script, #view b')).toHaveLength(0);
    expect((page.dom.window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it('retries the failed devices with its button', async () => {
    const page = await openPage(stack.apiUrl, `#/tasks/${taskId}`);
    await page.waitFor('the task', () => page.text('#task-status').includes('running'));
    page.click('button[data-action="retry"]');
    await page.waitFor(
      'the answer',
      () => page.text('#action-message'),
      (t) => t === '2 failed device(s) will be pushed again.',
    );
    await eventually(
      'the failed devices to be pushed again',
      () => stack.api<{ timeline: Array<{ event: string }> }>('GET', `/v1/upgrade-tasks/${taskId}/devices/fail-1`),
      (r) => r.body.timeline.some((e) => e.event === 'retry requested'),
    );
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

      const page = await openPage(url);
      const notice = page.doc.getElementById('notice') as HTMLElement;
      await page.waitFor('the token notice', () => !notice.hidden && notice.textContent);
      expect(notice.textContent).toMatch(/token is needed/);
      expect(page.rows('tasks')).toEqual([]);

      (page.doc.getElementById('token') as HTMLInputElement).value = 'not-the-token';
      page.click('#token-form button[type="submit"]');
      await page.waitFor(
        'the refusal',
        () => notice.textContent ?? '',
        (t) => t.includes('wrong bearer token'),
      );

      (page.doc.getElementById('token') as HTMLInputElement).value = token;
      page.click('#token-form button[type="submit"]');
      await page.waitFor('the task list', () => page.rows('tasks').length === 3);
      expect(notice.hidden).toBe(true);
      expect(page.dom.window.localStorage.getItem('ota.apiToken')).toBe(token);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await connection.close();
    }
  });
});
