/*
 * The task list and the record views of the operators' page, and what all
 * views share (the task's own view is task-detail.js, the fleet fleet.js).
 * Each view builds its frame once in `root` and returns load(alive), which
 * fetches from /v1 and fills the frame; app.js runs it on entry, every few
 * seconds and after an action. alive() turns false once the operator has
 * moved on, so a late answer never paints over the next view.
 * `nav` is {go(path, query), refresh()} from app.js.
 *
 * Elements that a refresh rebuilds carry `data-focus-key`, so app.js can give
 * the focus back to the same row, tab or link after it.
 */
window.OtaUi.views = (function (ui) {
  'use strict';

  const { h, table, definitions, badge, time, hashLink, linkRow, api } = ui;

  const PAGE_SIZE = 50;
  const enc = encodeURIComponent;
  const TASK_STATUSES = ['waiting', 'running', 'paused', 'completed', 'cancelled'];

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

  /** The pager's links; each keeps its focus key across refreshes. */
  function pagerLinks(first, next) {
    return [
      first ? h('a', { href: first.href, 'data-focus-key': 'pager:first' }, first.label) : '',
      next ? h('a', { href: next.href, 'data-focus-key': 'pager:next' }, next.label) : '',
    ];
  }

  /** #/tasks?status=&cursor=&limit= — newest first. */
  function taskList(root, q, nav) {
    const rows = h('tbody');
    const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
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
        ...page.items.map((t) => {
          const href = hashLink(`/tasks/${enc(t.taskId)}`);
          const row = h(
            'tr',
            { 'data-task-id': t.taskId },
            h('td', {}, h('a', { href }, t.name || '(no name)')),
            h('td', {}, h('code', {}, t.taskId)),
            h('td', {}, badge(t.status)),
            h('td', {}, t.kind === 'verification' ? 'verification' : `${t.strategy} / ${t.method}`),
            h('td', {}, t.targetVersion),
            h('td', {}, time(t.createdAt)),
          );
          return linkRow(row, href, `task:${t.taskId}`);
        }),
      );
      if (page.items.length === 0) rows.append(h('tr', {}, h('td', { colspan: 6 }, 'No upgrade tasks.')));
      const newest = { status: q.status, limit: q.limit };
      pager.replaceChildren(
        ...pagerLinks(
          q.cursor && { href: hashLink('/tasks', newest), label: '« Newest' },
          page.nextCursor && { href: hashLink('/tasks', { ...newest, cursor: page.nextCursor }), label: 'Older »' },
        ),
      );
    };
  }

  /** A device can be cancelled only before its upgrade runs on it (the API refuses later). */
  const CANCELLABLE_RECORD = ['to_be_pushed', 'pushed'];

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
      { type: 'button', 'data-action': 'cancel-device', onclick: cancelDevice, hidden: true },
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
      cancel.hidden = !CANCELLABLE_RECORD.includes(r.status);
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

  return { taskList, record, shared: { say, listParams, pagerLinks, versions, failure } };
})(window.OtaUi);
