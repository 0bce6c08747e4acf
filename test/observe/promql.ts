/** Metric names out of a Grafana dashboard's PromQL, and out of Prometheus exposition text. */

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/** Names of the series a PromQL expression selects (functions, labels, keywords and ranges left out). */
export function metricNamesInExpr(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range selectors, $__rate_interval included
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // label lists
  const names: string[] = [];
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = bare.slice((m.index ?? 0) + m[0].length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return names;
}

interface Panel {
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}

export function dashboardMetricNames(dashboard: { panels?: Panel[] }): Set<string> {
  const names = new Set<string>();
  const visit = (panels: Panel[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) for (const n of metricNamesInExpr(t.expr ?? '')) names.add(n);
      visit(p.panels);
    }
  };
  visit(dashboard.panels);
  return names;
}

/** Every series name in an exposition: sample lines and HELP/TYPE lines (a labelled counter with no sample yet). */
export function servedMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const meta = /^# (?:HELP|TYPE) ([A-Za-z_:][A-Za-z0-9_:]*)/.exec(line);
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]/.exec(line);
    if (meta) names.add(meta[1]);
    else if (sample) names.add(sample[1]);
  }
  return names;
}
