/*
 * #/tasks/{taskId}?status=&deviceKey=&cursor=&limit= — one task: status,
 * progress and its course over time, the controls its status allows, the
 * detail tabs and the open tab's records.
 */
window.OtaUi.views.taskDetail = (function (ui) {
  'use strict';

  const { h, table, definitions, badge, time, hashLink, linkRow, naturalCompare, api, charts } = ui;
  const { say, listParams, pagerLinks, versions, failure } = ui.views.shared;

  const enc = encodeURIComponent;
  const FINISHED = ['success', 'failure', 'skipped', 'cancelled'];
  /** The detail tabs, in the order of the record's life. */
  const TABS = [
    ['', 'All'],
    ['to_be_pushed', 'To be pushed'],
    ['pushed', 'Pushed'],
    ['upgrading', 'Upgrading'],
    ['success', 'Success'],
    ['failure', 'Failure'],
    ['skipped', 'Skipped'],
    ['cancelled', 'Cancelled'],
  ];
  const COLUMNS = ['Device', 'Version', 'Status', 'Waiting / skipped because', 'Progress', 'Failure', 'Attempts'];

  /** Which controls a task's status allows, as the API decides them (a finished task takes none). */
  const CONTROLS = {
    pause: (t) => t.status === 'waiting' || t.status === 'running',
    resume: (t) => t.status === 'paused',
    cancel: (t) => ['waiting', 'running', 'paused'].includes(t.status),
    retry: (t) => ['waiting', 'running', 'paused'].includes(t.status) && (t.counts?.failure || 0) > 0,
  };

  /**
   * Finished counts per task, sampled at each refresh while the page is open
   * (the API keeps no history of them). A run of equal samples keeps only its
   * first and last, so an idle task costs two points however long it is watched.
   */
  const MAX_SAMPLES = 500;
  const samplesByTask = new Map();
  function sample(taskId, counts) {
    const samples = samplesByTask.get(taskId) || [];
    samplesByTask.set(taskId, samples);
    const next = { at: Date.now(), success: counts.success || 0, failure: counts.failure || 0 };
    const same = (a) => a && a.success === next.success && a.failure === next.failure;
    if (same(samples[samples.length - 1]) && same(samples[samples.length - 2])) samples[samples.length - 1] = next;
    else samples.push(next);
    if (samples.length > MAX_SAMPLES) samples.splice(0, samples.length - MAX_SAMPLES);
    return samples;
  }

  /** Tabs as a tablist: one tab stop, arrows move between tabs, Enter or Space opens one. */
  function onTabKey(e) {
    const tabs = [...e.currentTarget.querySelectorAll('[role="tab"]')];
    const at = tabs.indexOf(e.target);
    if (at < 0) return;
    const move = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
    if (move) {
      e.preventDefault();
      tabs[(at + move + tabs.length) % tabs.length].focus();
    } else if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      tabs[e.key === 'Home' ? 0 : tabs.length - 1].focus();
    } else if (e.key === ' ') {
      e.preventDefault();
      e.target.click();
    }
  }

  function recordRow(taskId, r) {
    const href = hashLink(`/tasks/${enc(taskId)}/devices/${enc(r.deviceKey)}`);
    const row = h(
      'tr',
      { 'data-device-key': r.deviceKey },
      h('td', {}, h('a', { href }, r.deviceKey)),
      h('td', {}, versions(r)),
      h('td', {}, badge(r.status)),
      h('td', {}, r.waitReason || r.skipReason || ''),
      h('td', {}, `${r.progress}%`),
      h('td', { class: 'failure' }, failure(r)),
      h('td', {}, r.attempts),
      h('td', {}, time(r.updatedAt)),
    );
    return linkRow(row, href, `device:${r.deviceKey}`);
  }

  return function taskDetail(root, taskId, q, nav) {
    const taskPath = `/v1/upgrade-tasks/${enc(taskId)}`;
    const here = (change) =>
      hashLink(`/tasks/${enc(taskId)}`, { status: q.status, deviceKey: q.deviceKey, limit: q.limit, ...change });
    const title = h('h1', {}, taskId);
    const summary = h('dl', { class: 'summary' });
    const bar = h('progress', { id: 'progress', max: 1, value: 0 });
    const barLabel = h('span', { id: 'progress-label' });
    const course = h('figure', { id: 'progress-course' });
    const message = h('span', { id: 'action-message', class: 'message', role: 'status' });
    const tabs = h('nav', { class: 'tabs', id: 'tabs', role: 'tablist', 'aria-label': 'Records by status' });
    tabs.addEventListener('keydown', onTabKey);
    const rows = h('tbody');
    const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
    const search = h('input', {
      name: 'deviceKey',
      type: 'search',
      value: q.deviceKey,
      placeholder: 'deviceKey…',
      'aria-label': 'Device key',
    });

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
    const buttons = [
      ['pause', 'Pause'],
      ['resume', 'Resume'],
      ['cancel', 'Cancel'],
      ['retry', 'Retry failed'],
    ].map(([action, label]) =>
      h('button', { type: 'button', 'data-action': action, hidden: true, onclick: () => act(action, label) }, label),
    );
    const onSearch = (e) => {
      e.preventDefault();
      nav.go(`/tasks/${enc(taskId)}`, { status: q.status, deviceKey: search.value.trim(), limit: q.limit });
    };

    root.append(
      h('p', {}, h('a', { href: '#/tasks' }, '« All tasks')),
      title,
      summary,
      h('p', { class: 'progress' }, bar, ' ', barLabel),
      course,
      h('p', { class: 'actions' }, buttons, message),
      tabs,
      h('form', { id: 'search', onsubmit: onSearch }, search, h('button', { type: 'submit' }, 'Search')),
      table('records', [...COLUMNS, 'Updated'], rows),
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
          [
            'Product',
            task.productKey &&
              h('a', { href: hashLink('/fleet', { productKey: task.productKey }) }, `${task.productKey} (fleet)`),
          ],
          ['Strategy / scope / method', `${task.strategy} / ${task.scope} / ${task.method}`],
          ['Created', time(task.createdAt)],
        ]),
      );
      for (const b of buttons) b.hidden = !CONTROLS[b.getAttribute('data-action')](task);
      bar.max = Math.max(total, 1);
      bar.value = finished;
      barLabel.textContent = `${finished} of ${total} finished (${total ? Math.floor((100 * finished) / total) : 0}%)`;
      const samples = sample(task.taskId, counts);
      const last = samples[samples.length - 1];
      course.replaceChildren(
        charts.sparkline(samples, total),
        h(
          'figcaption',
          {},
          h('span', { class: 'key key-success' }),
          ` ${last.success} succeeded `,
          h('span', { class: 'key key-failure' }),
          ` ${last.failure} failed — sampled at each refresh since ${new Date(samples[0].at).toLocaleTimeString()}`,
        ),
      );
      tabs.replaceChildren(
        ...TABS.map(([status, label]) => {
          const open = (q.status || '') === status;
          const n = status ? counts[status] || 0 : total;
          return h(
            'a',
            {
              href: here({ status, cursor: '' }),
              role: 'tab',
              'aria-selected': String(open),
              'aria-controls': 'records',
              tabindex: open ? 0 : -1,
              'data-status': status,
              'data-focus-key': `tab:${status}`,
              class: open ? 'tab active' : 'tab',
            },
            `${label} (${n})`,
          );
        }),
      );
      // Natural order within the page (m2 before m10); pages themselves follow the API's key order.
      const items = [...page.items].sort((a, b) => naturalCompare(a.deviceKey, b.deviceKey));
      rows.replaceChildren(...items.map((r) => recordRow(taskId, r)));
      if (items.length === 0) rows.append(h('tr', {}, h('td', { colspan: 8 }, 'No devices here.')));
      pager.replaceChildren(
        ...pagerLinks(
          q.cursor && { href: here({ cursor: '' }), label: '« First page' },
          page.nextCursor && { href: here({ cursor: page.nextCursor }), label: 'Next page »' },
        ),
      );
    };
  };
})(window.OtaUi);
