/*
 * The three views of the operators' page. Each builds its frame once in `root`
 * and returns load(alive), which fetches from /v1 and fills the frame; app.js
 * runs it on entry, every few seconds and after an action. alive() turns false
 * once the operator has moved on, so a late answer never paints over the next view.
 * `nav` is {go(path, query), refresh()} from app.js.
 */
window.OtaUi.views = (function (ui) {
  'use strict';

  const { h, table, definitions, badge, time, hashLink, api } = ui;

  const PAGE_SIZE = 50;
  const enc = encodeURIComponent;
  const TASK_STATUSES = ['waiting', 'running', 'paused', 'completed', 'cancelled'];
  const FINISHED = ['success', 'failure', 'skipped', 'cancelled'];
  /** The detail tabs, in the order of the record's life. */
  const TABS = [
    ['to_be_pushed', 'To be pushed'],
    ['pushed', 'Pushed'],
    ['upgrading', 'Upgrading'],
    ['success', 'Success'],
    ['failure', 'Failure'],
    ['skipped', 'Skipped'],
    ['cancelled', 'Cancelled'],
  ];
  const RECORD_COLUMNS = ['Device', 'Version', 'Status', 'Waiting / skipped because'];

  const versions = (r) => `${r.fromVersion || '?'} → ${r.toVersion}`;
  const failure = (r) => (r.failure ? `${r.failure.code}: ${r.failure.reason}` : '');

  /** Where a control button says how it went: the API's own message when it refused. */
  function say(el, text, isError) {
    el.textContent = text;
    el.className = isError ? 'message error' : 'message';
  }

  /** The page of a list the hash asks for: `limit` (default PAGE_SIZE) and `cursor` go to the API as they are. */
  function listParams(q, names) {
    const params = new URLSearchParams({ limit: q.limit || String(PAGE_SIZE) });
    for (const k of names) if (q[k]) params.set(k, q[k]);
    return params;
  }

  /** #/tasks?status=&cursor=&limit= — newest first. */
  function taskList(root, q, nav) {
    const rows = h('tbody');
    const pager = h('nav', { class: 'pager' });
    const statusFilter = h(
      'select',
      { name: 'status', 'aria-label': 'Task status', onchange: (e) => nav.go('/tasks', { status: e.target.value }) },
      h('option', { value: '' }, 'all statuses'),
      TASK_STATUSES.map((s) => h('option', { value: s, selected: s === q.status }, s)),
    );
    const columns = ['Name', 'Task', 'Status', 'Strategy / method', 'Target version', 'Created'];
    root.append(h('h1', {}, 'Upgrade tasks'), h('p', {}, statusFilter), table('tasks', columns, rows), pager);

    return async (alive) => {
      const page = await api('GET', `/v1/upgrade-tasks?${listParams(q, ['status', 'cursor'])}`);
      if (!alive()) return;
      rows.replaceChildren(
        ...page.items.map((t) =>
          h(
            'tr',
            { 'data-task-id': t.taskId },
            h('td', {}, h('a', { href: hashLink(`/tasks/${enc(t.taskId)}`) }, t.name || '(no name)')),
            h('td', {}, h('code', {}, t.taskId)),
            h('td', {}, badge(t.status)),
            h('td', {}, t.kind === 'verification' ? 'verification' : `${t.strategy} / ${t.method}`),
            h('td', {}, t.targetVersion),
            h('td', {}, time(t.createdAt)),
          ),
        ),
      );
      if (page.items.length === 0) rows.append(h('tr', {}, h('td', { colspan: 6 }, 'No upgrade tasks.')));
      const newest = { status: q.status, limit: q.limit };
      pager.replaceChildren(
        q.cursor ? h('a', { href: hashLink('/tasks', newest) }, '« Newest') : '',
        page.nextCursor ? h('a', { href: hashLink('/tasks', { ...newest, cursor: page.nextCursor }) }, 'Older »') : '',
      );
    };
  }

  /** #/tasks/{taskId}?status=&deviceKey=&cursor=&limit= — status, progress, controls, tabs and the tab's records. */
  function taskDetail(root, taskId, q, nav) {
    const taskPath = `/v1/upgrade-tasks/${enc(taskId)}`;
    const here = (change) =>
      hashLink(`/tasks/${enc(taskId)}`, { status: q.status, deviceKey: q.deviceKey, limit: q.limit, ...change });
    const title = h('h1', {}, taskId);
    const summary = h('dl', { class: 'summary' });
    const bar = h('progress', { id: 'progress', max: 1, value: 0 });
    const barLabel = h('span', { id: 'progress-label' });
    const message = h('span', { id: 'action-message', class: 'message', role: 'status' });
    const tabs = h('nav', { class: 'tabs', id: 'tabs' });
    const rows = h('tbody');
    const pager = h('nav', { class: 'pager' });
    const search = h('input', { name: 'deviceKey', type: 'search', value: q.deviceKey, placeholder: 'deviceKey…' });

    async function act(action, label) {
      if (action === 'cancel' && !window.confirm(`Cancel upgrade task ${taskId}? No device is pushed after this.`)) {
        return;
      }
      say(message, `${label}…`);
      try {
        const answer = await api('POST', `${taskPath}/${action}`, action === 'retry' ? {} : undefined);
        say(
          message,
          action === 'retry' ? `${answer.retried} failed device(s) will be pushed again.` : `${label} sent.`,
        );
        nav.refresh();
      } catch (err) {
        say(message, `${label} failed: ${err.message}`, true);
      }
    }
    const button = (action, label) =>
      h('button', { type: 'button', 'data-action': action, onclick: () => act(action, label) }, label);
    const onSearch = (e) => {
      e.preventDefault();
      nav.go(`/tasks/${enc(taskId)}`, { status: q.status, deviceKey: search.value.trim(), limit: q.limit });
    };

    root.append(
      h('p', {}, h('a', { href: '#/tasks' }, '« All tasks')),
      title,
      summary,
      h('p', { class: 'progress' }, bar, ' ', barLabel),
      h(
        'p',
        { class: 'actions' },
        [button('pause', 'Pause'), button('resume', 'Resume'), button('cancel', 'Cancel')],
        [button('retry', 'Retry failed'), message],
      ),
      tabs,
      h('form', { id: 'search', onsubmit: onSearch }, search, h('button', { type: 'submit' }, 'Search')),
      table('records', [...RECORD_COLUMNS, 'Progress', 'Failure', 'Attempts', 'Updated'], rows),
      pager,
    );

    return async (alive) => {
      const params = listParams(q, ['status', 'deviceKey', 'cursor']);
      const [task, page] = await Promise.all([api('GET', taskPath), api('GET', `${taskPath}/devices?${params}`)]);
      if (!alive()) return;
      const counts = task.counts || {};
      const total = task.total || 0;
      const finished = FINISHED.reduce((n, s) => n + (counts[s] || 0), 0);
      title.textContent = task.name || task.taskId;
      summary.replaceChildren(
        ...definitions([
          ['Task', h('code', {}, task.taskId)],
          [
            'Status',
            h('span', { id: 'task-status' }, badge(task.status), task.pauseReason && ` — ${task.pauseReason}`),
          ],
          ['Stage', task.stagePhase],
          ['Firmware', `${(task.sourceVersions || []).join(', ')} → ${task.targetVersion}`],
          ['Strategy / scope / method', `${task.strategy} / ${task.scope} / ${task.method}`],
          ['Created', time(task.createdAt)],
        ]),
      );
      bar.max = Math.max(total, 1);
      bar.value = finished;
      barLabel.textContent = `${finished} of ${total} finished (${total ? Math.floor((100 * finished) / total) : 0}%)`;
      const tab = (status, label) => {
        const open = (q.status || '') === status;
        const attrs = { href: here({ status }), 'data-status': status, 'aria-current': open && 'page' };
        return h('a', { ...attrs, class: open ? 'tab active' : 'tab' }, label);
      };
      tabs.replaceChildren(
        tab('', `All (${total})`),
        ...TABS.map(([s, label]) => tab(s, `${label} (${counts[s] || 0})`)),
      );
      rows.replaceChildren(...page.items.map((r) => recordRow(taskId, r)));
      if (page.items.length === 0) rows.append(h('tr', {}, h('td', { colspan: 8 }, 'No devices here.')));
      pager.replaceChildren(
        q.cursor ? h('a', { href: here({ cursor: '' }) }, '« First page') : '',
        page.nextCursor ? h('a', { href: here({ cursor: page.nextCursor }) }, 'Next page »') : '',
      );
    };
  }

  function recordRow(taskId, r) {
    return h(
      'tr',
      { 'data-device-key': r.deviceKey },
      h('td', {}, h('a', { href: hashLink(`/tasks/${enc(taskId)}/devices/${enc(r.deviceKey)}`) }, r.deviceKey)),
      h('td', {}, versions(r)),
      h('td', {}, badge(r.status)),
      h('td', {}, r.waitReason || r.skipReason || ''),
      h('td', {}, `${r.progress}%`),
      h('td', { class: 'failure' }, failure(r)),
      h('td', {}, r.attempts),
      h('td', {}, time(r.updatedAt)),
    );
  }

  /** #/tasks/{taskId}/devices/{deviceKey} — one record and its timeline. */
  function record(root, taskId, deviceKey, nav) {
    const path = `/v1/upgrade-tasks/${enc(taskId)}/devices/${enc(deviceKey)}`;
    const back = h('a', { href: hashLink(`/tasks/${enc(taskId)}`) }, '« Task');
    const summary = h('dl', { class: 'summary' });
    const timeline = h('tbody');
    const message = h('span', { id: 'action-message', class: 'message', role: 'status' });
    async function cancelDevice() {
      try {
        await api('POST', `${path}/cancel`);
        say(message, 'Device cancelled.');
        nav.refresh();
      } catch (err) {
        say(message, `Cancel failed: ${err.message}`, true);
      }
    }
    const cancel = h(
      'button',
      { type: 'button', 'data-action': 'cancel-device', onclick: cancelDevice },
      'Cancel device',
    );
    root.append(
      h('p', {}, back),
      h('h1', {}, deviceKey),
      summary,
      h('p', { class: 'actions' }, cancel, message),
      h('h2', {}, 'Timeline'),
      table('timeline', ['At', 'Event', 'Detail'], timeline),
    );

    return async (alive) => {
      const r = await api('GET', path);
      if (!alive()) return;
      back.setAttribute('href', hashLink(`/tasks/${enc(taskId)}`, { status: r.status }));
      const why = r.waitReason || r.skipReason;
      summary.replaceChildren(
        ...definitions([
          ['Task', h('code', {}, r.taskId)],
          ['Product', r.productKey],
          ['Status', h('span', { id: 'record-status' }, badge(r.status), why && ` — ${why}`)],
          ['Version', versions(r)],
          ['Progress', `${r.progress}%`],
          ['Failure', failure(r)],
          ['Attempts', String(r.attempts)],
          ['Updated', time(r.updatedAt)],
        ]),
      );
      timeline.replaceChildren(
        ...(r.timeline || []).map((e) =>
          h('tr', {}, h('td', {}, time(e.at)), h('td', {}, e.event), h('td', {}, e.detail)),
        ),
      );
    };
  }

  return { taskList, taskDetail, record };
})(window.OtaUi);
