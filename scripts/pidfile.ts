/**
 * Remembers the pids of every process the launcher runs, so a launcher that
 * was killed outright (no Ctrl-C) does not leave a second start fighting an
 * orphaned Temporal, database or service over their ports and files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ManagedProcess } from '../runtime/managed-process';

const FILE = 'launcher.pids.json';

interface Entry {
  name: string;
  pid: number;
  /** The exact command line, NUL-separated as in /proc: a reused pid runs something else. */
  cmdline: string;
  /** Leads its own process group (Temporal, the database): the group goes too. */
  group: boolean;
}

export function writePids(dataDir: string, procs: ManagedProcess[]): void {
  const entries: Entry[] = procs.flatMap((p) =>
    p.running && p.pid
      ? [
          {
            name: p.opts.name,
            pid: p.pid,
            cmdline: [p.opts.command, ...p.opts.args].join('\0'),
            group: p.opts.detached ?? false,
          },
        ]
      : [],
  );
  // Written whole then renamed: a reader (or a crash) never sees half a file.
  const file = path.join(dataDir, FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(entries));
  fs.renameSync(`${file}.tmp`, file);
}

export function killStale(dataDir: string): void {
  const file = path.join(dataDir, FILE);
  if (!fs.existsSync(file)) return;
  let entries: Entry[] = [];
  try {
    entries = JSON.parse(fs.readFileSync(file, 'utf8')) as Entry[];
  } catch {
    // A torn file from a crash: nothing trustworthy to kill.
  }
  for (const { name, pid, cmdline, group } of entries) {
    if (commandLine(pid) !== cmdline) continue;
    try {
      process.kill(group ? -pid : pid, 'SIGKILL');
      process.stdout.write(`[launcher] stopped ${name} (pid ${pid}) left over from an earlier run\n`);
    } catch {
      // Not running any more.
    }
  }
  fs.rmSync(file, { force: true });
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '');
  } catch {
    return '';
  }
}
