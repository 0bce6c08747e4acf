/**
 * Keeps one child process alive: when it exits on its own it is started again
 * after a delay that doubles with each quick failure (capped), and returns to
 * the minimum once a run has lasted long enough to count as healthy. The
 * launcher supervises Temporal, the database and the three services this way;
 * each restart reuses the same data, so nothing durable is lost.
 */
import type { ManagedProcess } from './managed-process';

export interface SupervisorOptions {
  name: string;
  /** Starts the process; resolves once it is ready (or at once when readiness is someone else's business). */
  start: () => Promise<ManagedProcess>;
  /** Told each line worth showing to a person (exits, restarts, failed restarts). */
  say: (line: string) => void;
  /** Called after every successful (re)start, e.g. to record pids. */
  onStarted?: (proc: ManagedProcess) => void;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** A run at least this long resets the backoff. */
  stableAfterMs?: number;
}

export class Supervisor {
  private proc: ManagedProcess | undefined;
  private stopped = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly stableAfterMs: number;

  constructor(private readonly opts: SupervisorOptions) {
    this.minDelayMs = opts.minDelayMs ?? 1000;
    this.maxDelayMs = opts.maxDelayMs ?? 15_000;
    this.stableAfterMs = opts.stableAfterMs ?? 60_000;
  }

  get name(): string {
    return this.opts.name;
  }

  get current(): ManagedProcess | undefined {
    return this.proc;
  }

  /** The first start: a failure here is the caller's (a stack that never came up is not restarted). */
  async start(): Promise<void> {
    this.adopt(await this.opts.start());
  }

  /** Stops the process and any pending restart; afterwards nothing is started again. */
  async stop(graceMs?: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.proc?.stop(graceMs);
  }

  private adopt(proc: ManagedProcess): void {
    this.proc = proc;
    this.opts.onStarted?.(proc);
    const startedAt = Date.now();
    void proc.whenExited().then((code) => {
      if (this.stopped || proc.isStopping) return;
      if (Date.now() - startedAt >= this.stableAfterMs) this.failures = 0;
      this.opts.say(`${this.opts.name} exited (${code === null ? 'killed by a signal' : `code ${code}`})`);
      void this.restart();
    });
  }

  private async restart(): Promise<void> {
    while (!this.stopped) {
      const delay = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** this.failures);
      this.failures++;
      this.opts.say(`restarting ${this.opts.name} in ${delay / 1000} s`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, delay);
      });
      if (this.stopped) return;
      try {
        const proc = await this.opts.start();
        if (this.stopped) {
          await proc.stop();
          return;
        }
        this.opts.say(`${this.opts.name} is back`);
        this.adopt(proc);
        return;
      } catch (err) {
        this.opts.say(`${this.opts.name} did not come back: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
