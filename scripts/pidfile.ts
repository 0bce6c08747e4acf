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

/**
 * Kills what an earlier launcher left running, and waits until it is gone (its ports free again).
 * Answers whether it killed anything.
 */
export async function killStale(dataDir: string): Promise<boolean> {
  const file = path.join(dataDir, FILE);
  if (!fs.existsSync(file)) return false;
  let entries: Entry[] = [];
  try {
    entries = JSON.parse(fs.readFileSync(file, 'utf8')) as Entry[];
  } catch {
    // A torn file from a crash: nothing trustworthy to kill.
  }
  const killed: number[] = [];
  for (const { name, pid, cmdline, group } of entries) {
    if (commandLine(pid) !== cmdline) continue;
    try {
      process.kill(group ? -pid : pid, 'SIGKILL');
      killed.push(pid);
      process.stdout.write(`[launcher] stopped ${name} (pid ${pid}) left over from an earlier run\n`);
    } catch {
      // Not running any more.
    }
  }
  // A signal is delivered asynchronously: the ports are free only once the processes have ended.
  const deadline = Date.now() + 10_000;
  while (killed.some(running) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  fs.rmSync(file, { force: true });
  return killed.length > 0;
}

/**
 * Some thread of the process has not finished exiting. The leader of a multi-threaded
 * process (Temporal, the database) turns zombie while its other threads still hold the
 * shared sockets open, so the leader's own state says too little.
 */
function running(pid: number): boolean {
  let threads: string[];
  try {
    threads = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  return threads.some((tid) => {
    try {
      return !/\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  });
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '');
  } catch {
    return '';
  }
}
