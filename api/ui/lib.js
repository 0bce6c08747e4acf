/*
 * What the operators' page's views share: building DOM nodes and calling the
 * /v1 API. Loaded first (index.html); views.js and app.js read `window.OtaUi`.
 *
 * Everything the server sends reaches the page as text: device keys, task
 * names and failure reasons come from devices and users, so nodes are built
 * with createElement and text nodes, never from HTML strings.
 */
window.OtaUi = (function () {
  'use strict';

  const TOKEN_KEY = 'ota.apiToken';

  /** h('a', {href: '#/x', onclick: fn}, 'text', node): strings and numbers become text nodes. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';

  /** h() for SVG: attributes only (no styles, the CSP forbids inline ones; classes are styled in style.css). */
  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== undefined && value !== null && value !== false) el.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
  /** "m2" before "m10"; plain order breaks ties so distinct keys never compare equal. */
  function naturalCompare(a, b) {
    return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
  }

  /**
   * Makes a table row act as the link it holds: the row takes the focus (its
   * link leaves the tab order, so each row is one stop), Enter or Space opens
   * it, and a click anywhere on it does too.
   */
  function linkRow(tr, href, focusKey) {
    tr.tabIndex = 0;
    tr.classList.add('link-row');
    tr.setAttribute('data-focus-key', focusKey);
    for (const a of tr.querySelectorAll('a')) a.tabIndex = -1;
    tr.addEventListener('keydown', (e) => {
      if (e.target !== tr || (e.key !== 'Enter' && e.key !== ' ')) return;
      e.preventDefault();
      location.hash = href;
    });
    tr.addEventListener('click', (e) => {
      if (!e.target.closest('a, button')) location.hash = href;
    });
    return tr;
  }

  /** A table with a header row; the view's load fills the body. */
  function table(id, headings, body) {
    const head = h('tr', {}, ...headings.map((t) => h('th', {}, t)));
    return h('table', { id }, h('thead', {}, head), body);
  }

  /** The children of a <dl> from [term, value] pairs, leaving out empty values. */
  function definitions(pairs) {
    return pairs.filter(([, v]) => v).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]);
  }

  function badge(status) {
    return h('span', { class: `badge status-${status}` }, status);
  }

  /** "2024-05-01T10:00:00.000Z" → "2024-05-01 10:00:00Z": the same on every operator's screen. */
  function time(iso) {
    return iso
      ? String(iso)
          .replace('T', ' ')
          .replace(/\.\d+Z$/, 'Z')
      : '';
  }

  /** "#/tasks/t1?status=failure", leaving out empty query values. */
  function hashLink(path, query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) if (v) qs.set(k, v);
    const s = qs.toString();
    return `#${path}${s ? `?${s}` : ''}`;
  }

  function storedToken() {
    try {
      return localStorage.getItem(TOKEN_KEY) || '';
    } catch {
      return ''; // storage disabled: calls go without a token
    }
  }

  function storeToken(token) {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  }

  /** A refused or failed call: the HTTP status (0 when the API could not be reached) and the API's message. */
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /** Calls /v1; resolves to the JSON answer, or throws an ApiError carrying the API's own error message. */
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const token = storedToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new ApiError(0, `cannot reach the API (${(err && err.message) || err})`);
    }
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (a proxy's error page): the status says enough.
    }
    if (res.ok) return data;
    const error = (data && data.error) || {};
    const details = Array.isArray(error.details) ? error.details.map((d) => `${d.path}: ${d.message}`) : [];
    throw new ApiError(res.status, [error.message || `HTTP ${res.status}`, ...details].join('; '));
  }

  return { h, svg, naturalCompare, linkRow, table, definitions, badge, time, hashLink, storedToken, storeToken, api };
})();
