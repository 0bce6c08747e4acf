/**
 * Remembers the pids of the detached infrastructure processes, so a launcher
 * that was killed outright (no Ctrl-C) does not leave a second start fighting
 * an orphaned Temporal or database over their ports and files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ManagedProcess } from '../runtime/managed-process';

const FILE = 'launcher.pids.json';

export function writePids(dataDir: string, procs: ManagedProcess[]): void {
  const pids = procs.filter((p) => p.running && p.pid).map((p) => ({ name: p.opts.name, pid: p.pid }));
  fs.writeFileSync(path.join(dataDir, FILE), JSON.stringify(pids));
}

export function killStale(dataDir: string): void {
  const file = path.join(dataDir, FILE);
  if (!fs.existsSync(file)) return;
  let entries: Array<{ name: string; pid: number }> = [];
  try {
    entries = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof entries;
  } catch {
    // A torn file from a crash: nothing trustworthy to kill.
  }
  for (const { name, pid } of entries) {
    // Only a process that still runs the same program: pids get reused.
    if (!commandLine(pid).includes(name === 'temporal' ? 'temporal' : name)) continue;
    try {
      process.kill(-pid, 'SIGKILL');
      process.stdout.write(`[launcher] stopped ${name} (pid ${pid}) left over from an earlier run\n`);
    } catch {
      // Not running any more.
    }
  }
  fs.rmSync(file, { force: true });
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
