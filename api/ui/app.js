/*
 * The operators' page: upgrade tasks, their progress and the detail tabs, read
 * from the /v1 API (lib.js), drawn by views.js. This file routes and refreshes.
 *
 * Routes live in the URL's hash, so a view can be bookmarked and reloaded:
 *   #/tasks?status=&cursor=                        the task list, newest first
 *   #/tasks/{taskId}?status=&deviceKey=&cursor=    one task: progress, tabs, records
 *   #/tasks/{taskId}/devices/{deviceKey}           one record and its timeline
 *   #/fleet?productKey=                            devices per firmware version
 * Both lists also take `limit` (page size, default 50).
 *
 * Keyboard: a refresh rebuilds rows, tabs and pager links; the focus goes back
 * to the element with the same `data-focus-key`, and after a route change to
 * that element or else the view's heading, so Tab goes on from where it was.
 */
(function (ui) {
  'use strict';

  const { h, hashLink, storedToken, storeToken, views } = ui;

  const REFRESH_MS = 3000;
  const byId = (id) => document.getElementById(id);

  let generation = 0; // counts route changes
  let load = null; // the open view's load(alive)
  let running = null; // the generation whose load is under way, if any
  let again = false; // a refresh was asked for during that load

  const nav = {
    go: (path, query) => {
      location.hash = hashLink(path, query);
    },
    refresh,
  };

  function showNotice(err) {
    const notice = byId('notice');
    notice.textContent =
      err.status === 401
        ? `A token is needed: enter the API token above and press Save. (${err.message})`
        : `Could not load this view: ${err.message}`;
    notice.hidden = false;
    if (err.status === 401) byId('token').focus();
  }

  function clearNotice() {
    byId('notice').hidden = true;
    byId('notice').textContent = '';
    byId('refreshed').textContent = `Last refreshed ${new Date().toLocaleTimeString()}.`;
  }

  /** The focus key of the focused element in the view: null when the focus is elsewhere (header, body). */
  function focusedKey() {
    const el = document.activeElement;
    if (!el || !byId('view').contains(el)) return null;
    return el.getAttribute('data-focus-key') || '';
  }

  /** Gives the focus back after the view was rebuilt, unless the focused element survived or the operator moved on. */
  function restoreFocus(key, toHeading) {
    const el = document.activeElement;
    if (key === null || (el && el !== document.body)) return;
    const view = byId('view');
    const same =
      key && [...view.querySelectorAll('[data-focus-key]')].find((e) => e.getAttribute('data-focus-key') === key);
    const target = same || (toHeading && view.querySelector('h1'));
    if (target) target.focus();
  }

  /** Reloads the open view; asked during a load, it runs once more after it, so an action's effect shows. */
  async function refresh(routedFocus) {
    if (!load) return;
    if (running === generation) {
      again = true;
      return;
    }
    const gen = generation;
    running = gen;
    again = false;
    const key = routedFocus === undefined ? focusedKey() : routedFocus;
    try {
      await load(() => gen === generation);
      if (gen === generation) {
        clearNotice();
        restoreFocus(key, routedFocus !== undefined);
      }
    } catch (err) {
      if (gen === generation) showNotice(err);
    } finally {
      if (running === gen) running = null;
      if (again && gen === generation) refresh();
    }
  }

  function parseHash() {
    const raw = location.hash.replace(/^#/, '') || '/tasks';
    const at = raw.indexOf('?');
    const query = Object.fromEntries(new URLSearchParams(at < 0 ? '' : raw.slice(at + 1)));
    try {
      const parts = (at < 0 ? raw : raw.slice(0, at)).split('/').filter(Boolean).map(decodeURIComponent);
      return { parts, query };
    } catch {
      return { parts: [], query }; // a malformed %-escape: no such page
    }
  }

  function route() {
    generation += 1;
    const root = byId('view');
    const key = focusedKey();
    root.replaceChildren();
    const { parts, query } = parseHash();
    const [first, taskId, sub, deviceKey] = parts;
    if (first === 'tasks' && parts.length === 1) load = views.taskList(root, query, nav);
    else if (first === 'tasks' && parts.length === 2) load = views.taskDetail(root, taskId, query, nav);
    else if (first === 'tasks' && sub === 'devices' && parts.length === 4) {
      load = views.record(root, taskId, deviceKey, nav);
    } else if (first === 'fleet' && parts.length === 1) load = views.fleet(root, query, nav);
    else {
      load = null;
      root.append(h('p', {}, 'No such page. ', h('a', { href: '#/tasks' }, 'All tasks')));
    }
    for (const link of document.querySelectorAll('#site-nav a')) {
      link.toggleAttribute('aria-current', link.getAttribute('data-section') === first);
    }
    const heading = root.querySelector('h1');
    if (heading) heading.tabIndex = -1; // focusable by the page only, so it is no extra tab stop
    refresh(key);
  }

  /** The token lives in this browser's localStorage and goes out only as the Authorization header of /v1 calls. */
  function startTokenForm() {
    const input = byId('token');
    const state = byId('token-state');
    const save = (token) => {
      storeToken(token);
      input.value = token;
      state.textContent = token ? 'token saved' : 'no token';
      refresh();
    };
    input.value = storedToken();
    state.textContent = input.value ? 'token saved' : 'no token';
    byId('token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      save(input.value.trim());
    });
    byId('token-clear').addEventListener('click', () => save(''));
  }

  function start() {
    startTokenForm();
    window.addEventListener('hashchange', route);
    setInterval(refresh, REFRESH_MS);
    route();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})(window.OtaUi);
