/*
 * The page's two small charts, drawn as inline SVG from numbers the views
 * hand in: nothing is fetched, and every label is a text node. Colours come
 * from classes in style.css (the CSP forbids inline styles).
 */
window.OtaUi.charts = (function (ui) {
  'use strict';

  const { svg } = ui;

  const BAR = { label: 120, bar: 420, count: 200, row: 30, height: 20 };

  /**
   * One horizontal bar per firmware version: online and offline devices
   * stacked, and beneath them a thin bar for the devices in an active upgrade.
   * rows: [{label, total, online, offline, upgrading}], widest bar = largest total.
   */
  function versionBars(rows) {
    const max = Math.max(1, ...rows.map((r) => r.total));
    const scale = (n) => (n / max) * BAR.bar;
    const width = BAR.label + BAR.bar + BAR.count;
    const height = Math.max(1, rows.length) * BAR.row + 4;
    const label = (r) =>
      `${r.label}: ${r.total} device(s), ${r.online} online, ${r.offline} offline, ${r.upgrading} upgrading`;
    return svg(
      'svg',
      {
        class: 'chart version-bars',
        viewBox: `0 0 ${width} ${height}`,
        width,
        height,
        role: 'img',
        'aria-label': rows.length ? rows.map(label).join('; ') : 'No devices.',
      },
      rows.map((r, i) => {
        const y = i * BAR.row + 2;
        const onlineWidth = scale(r.online);
        return svg(
          'g',
          { 'data-version': r.label },
          svg('title', {}, label(r)),
          svg('text', { class: 'bar-label', x: BAR.label - 8, y: y + BAR.height - 5, 'text-anchor': 'end' }, r.label),
          svg('rect', { class: 'bar-online', x: BAR.label, y, width: onlineWidth, height: BAR.height - 5 }),
          svg('rect', {
            class: 'bar-offline',
            x: BAR.label + onlineWidth,
            y,
            width: scale(r.offline),
            height: BAR.height - 5,
          }),
          svg('rect', {
            class: 'bar-upgrading',
            x: BAR.label,
            y: y + BAR.height - 4,
            width: scale(r.upgrading),
            height: 4,
          }),
          svg(
            'text',
            { class: 'bar-count', x: BAR.label + scale(r.total) + 6, y: y + BAR.height - 5 },
            `${r.total} (${r.online} online${r.upgrading ? `, ${r.upgrading} upgrading` : ''})`,
          ),
        );
      }),
    );
  }

  const SPARK = { width: 320, height: 64, pad: 3 };

  /**
   * Finished devices over time: one line for successes, one for failures,
   * scaled to the task's total so a full rise means every device is done.
   * samples: [{at (ms), success, failure}], oldest first.
   */
  function sparkline(samples, total) {
    const first = samples[0].at;
    const span = Math.max(1, samples[samples.length - 1].at - first);
    const x = (at) => SPARK.pad + ((at - first) / span) * (SPARK.width - 2 * SPARK.pad);
    const y = (n) => SPARK.height - SPARK.pad - (n / Math.max(1, total)) * (SPARK.height - 2 * SPARK.pad);
    const line = (key) => {
      const points = samples.map((s) => `${x(s.at).toFixed(1)},${y(s[key]).toFixed(1)}`);
      // One sample: a flat line across, so the current level is still visible.
      if (samples.length === 1) points.push(`${SPARK.width - SPARK.pad},${y(samples[0][key]).toFixed(1)}`);
      return svg('polyline', { class: `spark-${key}`, points: points.join(' ') });
    };
    const last = samples[samples.length - 1];
    return svg(
      'svg',
      {
        class: 'chart sparkline',
        viewBox: `0 0 ${SPARK.width} ${SPARK.height}`,
        width: SPARK.width,
        height: SPARK.height,
        role: 'img',
        'aria-label': `Now ${last.success} succeeded and ${last.failure} failed of ${total}.`,
      },
      svg('rect', { class: 'spark-frame', x: 0.5, y: 0.5, width: SPARK.width - 1, height: SPARK.height - 1 }),
      line('success'),
      line('failure'),
    );
  }

  return { versionBars, sparkline };
})(window.OtaUi);
