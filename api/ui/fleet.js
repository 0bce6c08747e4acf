/*
 * #/fleet?productKey= — how many devices of a product run which firmware
 * version, online or not, and how many are in an active upgrade: a bar chart
 * and the same numbers as a table. Product keys with tasks are offered as
 * links (there is no product list in the API to read them from).
 */
window.OtaUi.views.fleet = (function (ui) {
  'use strict';

  const { h, table, hashLink, api, charts } = ui;

  const NOT_REPORTED = 'not reported';
  const COLUMNS = ['Version', 'Devices', 'Online', 'Offline', 'Upgrading'];

  return function fleet(root, q, nav) {
    const productKey = q.productKey || '';
    const input = h('input', {
      id: 'fleet-product',
      name: 'productKey',
      value: productKey,
      placeholder: 'productKey…',
      list: 'fleet-products',
      required: true,
    });
    const known = h('datalist', { id: 'fleet-products' });
    const products = h('p', { id: 'fleet-known', class: 'muted' });
    const summary = h('p', { id: 'fleet-summary' });
    const chart = h('figure', { id: 'fleet-chart' });
    const rows = h('tbody');
    const onSubmit = (e) => {
      e.preventDefault();
      nav.go('/fleet', { productKey: input.value.trim() });
    };
    root.append(
      h('h1', {}, productKey ? `Fleet of ${productKey}` : 'Fleet versions'),
      h(
        'form',
        { id: 'fleet-form', onsubmit: onSubmit },
        h('label', { for: 'fleet-product' }, 'Product '),
        input,
        known,
        h('button', { type: 'submit' }, 'Show'),
      ),
      products,
      ...(productKey ? [summary, chart, table('versions', COLUMNS, rows)] : []),
    );

    return async (alive) => {
      const [tasks, view] = await Promise.all([
        api('GET', '/v1/upgrade-tasks?limit=100'),
        productKey ? api('GET', `/v1/products/${encodeURIComponent(productKey)}/versions`) : null,
      ]);
      if (!alive()) return;
      const keys = [...new Set(tasks.items.map((t) => t.productKey).filter(Boolean))].sort(ui.naturalCompare);
      known.replaceChildren(...keys.map((k) => h('option', { value: k })));
      products.replaceChildren(
        ...(keys.length ? ['Products with upgrade tasks: '] : []),
        ...keys.flatMap((k, i) => [
          i ? ', ' : '',
          h('a', { href: hashLink('/fleet', { productKey: k }), 'data-focus-key': `product:${k}` }, k),
        ]),
      );
      if (!view) return;
      summary.textContent =
        `${view.total} device(s): ${view.online} online, ${view.total - view.online} offline, ` +
        `${view.upgrading} in an active upgrade.`;
      const bars = view.versions.map((v) => ({ ...v, label: v.version === null ? NOT_REPORTED : v.version }));
      chart.replaceChildren(
        charts.versionBars(bars),
        h(
          'figcaption',
          { class: 'legend' },
          h('span', { class: 'key key-online' }),
          ' online ',
          h('span', { class: 'key key-offline' }),
          ' offline ',
          h('span', { class: 'key key-upgrading' }),
          ' in an active upgrade (pushed or upgrading)',
        ),
      );
      rows.replaceChildren(
        ...bars.map((v) =>
          h(
            'tr',
            { 'data-version': v.label },
            h('td', {}, v.version === null ? h('em', {}, NOT_REPORTED) : v.version),
            h('td', {}, v.total),
            h('td', {}, v.online),
            h('td', {}, v.offline),
            h('td', {}, v.upgrading),
          ),
        ),
      );
      if (bars.length === 0) rows.append(h('tr', {}, h('td', { colspan: 5 }, `No devices of ${productKey}.`)));
    };
  };
})(window.OtaUi);
