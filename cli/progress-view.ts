/** A terminal view of one task: a progress bar and the counts per record status (demo and CLI). */
export interface TaskView {
  taskId: string;
  name: string;
  status: string;
  total: number;
  counts: Record<'to_be_pushed' | 'pushed' | 'upgrading' | 'success' | 'failure' | 'skipped' | 'cancelled', number>;
}

const WIDTH = 40;

export function drawProgress(t: TaskView): string {
  const done = t.counts.success + t.counts.failure + t.counts.skipped + t.counts.cancelled;
  const share = t.total ? done / t.total : 0;
  const ok = t.total ? Math.round((t.counts.success / t.total) * WIDTH) : 0;
  const bad = Math.min(WIDTH - ok, Math.round(share * WIDTH) - ok);
  const bar = `${'█'.repeat(ok)}${'▒'.repeat(Math.max(0, bad))}${'·'.repeat(Math.max(0, WIDTH - ok - Math.max(0, bad)))}`;
  const c = t.counts;
  return [
    `${t.name} [${t.status}]`.padEnd(60),
    `  ${bar} ${(share * 100).toFixed(0).padStart(3)}%  ${done}/${t.total}`.padEnd(60),
    `  to be pushed ${c.to_be_pushed}  pushed ${c.pushed}  upgrading ${c.upgrading}  success ${c.success}  failure ${c.failure}  skipped ${c.skipped}  `,
  ].join('\n');
}
