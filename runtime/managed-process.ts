/**
 * A child process the launcher or the test harness owns: started with its
 * output prefixed (or sent to a file), stopped with SIGTERM and, if it lingers,
 * SIGKILL, so Ctrl-C or a failed test run leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

export interface ManagedProcessOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Append output to this file instead of the terminal. */
  logFile?: string;
  /** Put the process in its own group so a terminal Ctrl-C reaches it only through us (ordered shutdown). */
  detached?: boolean;
}

export class ManagedProcess {
  readonly child: ChildProcess;
  private exited: Promise<number | null>;
  private stopping = false;

  constructor(readonly opts: ManagedProcessOptions) {
    const out = opts.logFile ? fs.openSync(opts.logFile, 'a') : 'pipe';
    this.child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', out, out],
      detached: opts.detached ?? false,
    });
    if (typeof out === 'number') fs.closeSync(out);
    if (!opts.logFile) {
      prefixLines(this.child.stdout, opts.name, process.stdout);
      prefixLines(this.child.stderr, opts.name, process.stderr);
    }
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the exit code when the process ends on its own (not through stop()). */
  async whenExited(): Promise<number | null> {
    return this.exited;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    if (!this.running) return;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      // A detached child leads its own group: signal the group so its helpers go too.
      if (this.opts.detached && this.child.pid) process.kill(-this.child.pid, sig);
      else this.child.kill(sig);
    } catch {
      // Already gone.
    }
  }
}

function prefixLines(stream: NodeJS.ReadableStream | null, name: string, to: NodeJS.WritableStream): void {
  if (!stream) return;
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) to.write(`[${name}] ${line}\n`);
  });
  stream.on('end', () => {
    if (buffered) to.write(`[${name}] ${buffered}\n`);
  });
}
