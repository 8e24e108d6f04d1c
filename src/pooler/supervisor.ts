// PgbouncerSupervisor owns the managed PgBouncer: a child of the agent beside its PostgreSQL,
// started again with backoff whenever it dies or cannot start, SIGHUPed when its files change.
// Nothing here waits on the HA loop or blocks it: every failure is logged and retried.
import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import { silentLogger, type Logger } from '../log.ts';
import { DEFAULT_RESTART_TIMING, restartDelayMs, type RestartTiming } from './backoff.ts';
import { ensureCertificate, writePgbouncerFiles } from './files.ts';
import type { PgbouncerSettings } from './render.ts';
import { clearStalePgbouncer } from './stale.ts';
import { errorText } from '../errors.ts';
import { Serial } from '../serial.ts';

export type PgbouncerState =
  | { kind: 'stopped' }
  | { kind: 'starting' }
  | { kind: 'running'; pid: number }
  /** Failed to start or died; the next start is due at `retryAt` (ms since the epoch). */
  | { kind: 'waiting'; failures: number; retryAt: number; reason: string };

export type PgbouncerReload =
  | { kind: 'signalled'; pid: number }
  /** The listen address changed, which needs a new process. */
  | { kind: 'restarted'; pid: number }
  | { kind: 'unchanged' }
  /** Not running now: the new files apply at its next start. */
  | { kind: 'written' }
  | { kind: 'failed'; reason: string };

export interface PgbouncerSupervisorOptions {
  /** The pgbouncer executable. */
  bin: string;
  /** Read at every start and reload, so a reloaded configuration applies. */
  settings: () => PgbouncerSettings;
  log?: Logger;
  timing?: RestartTiming;
  /** How long a stop waits for PgBouncer's safe shutdown before SIGKILL. */
  stopTimeoutMs?: number;
  now?: () => number;
}

type ChildExit =
  { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null } | { kind: 'error'; message: string };

interface Running {
  child: ChildProcess;
  pid: number;
  startedAt: number;
  listen: { host: string; port: number };
  /** Stopped on purpose to start again at once: not a failure. */
  replacing: boolean;
  /** Settles after the exit was handled (state updated, restart scheduled). */
  handled: Promise<void>;
}

const LOG_TAIL_BYTES = 2048;

/** The last lines of PgBouncer's log file: why it stopped, in its own words. */
async function logTail(file: string, lines = 3): Promise<string> {
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const buffer = Buffer.alloc(Math.min(size, LOG_TAIL_BYTES));
      await handle.read(buffer, 0, buffer.length, size - buffer.length);
      return buffer.toString('utf8').trim().split('\n').slice(-lines).join(' | ');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}

export class PgbouncerSupervisor {
  private readonly opts: Required<Omit<PgbouncerSupervisorOptions, 'log'>> & { log: Logger };
  private running: Running | null = null;
  private wanted = false;
  private failures = 0;
  private lastReason: string | null = null;
  private retry: { timer: NodeJS.Timeout; at: number; reason: string } | null = null;
  private starting = false;
  /** Starts, reloads and stops run one at a time, in the order asked. */
  private readonly serial = new Serial();

  constructor(options: PgbouncerSupervisorOptions) {
    this.opts = {
      bin: options.bin,
      settings: options.settings,
      log: options.log ?? silentLogger,
      timing: options.timing ?? DEFAULT_RESTART_TIMING,
      stopTimeoutMs: options.stopTimeoutMs ?? 5000,
      now: options.now ?? Date.now,
    };
  }

  get state(): PgbouncerState {
    if (this.running !== null) return { kind: 'running', pid: this.running.pid };
    const retry = this.retry;
    if (retry !== null) return { kind: 'waiting', failures: this.failures, retryAt: retry.at, reason: retry.reason };
    if (this.starting) return { kind: 'starting' };
    return { kind: 'stopped' };
  }

  /** Starts PgBouncer in the background and keeps it running until stop(); returns at once. */
  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    void this.serial.run(() => this.launch());
  }

  /**
   * Rewrites the files from the current settings; SIGHUP when they changed and it runs. A new
   * listen address is the one change SIGHUP does not apply: PgBouncer is restarted on it then.
   */
  reload(): Promise<PgbouncerReload> {
    return this.serial.run(async () => {
      let changed: boolean;
      let settings: PgbouncerSettings;
      try {
        settings = this.opts.settings();
        await ensureCertificate(settings);
        changed = await writePgbouncerFiles(settings);
      } catch (err) {
        const reason = errorText(err);
        this.opts.log.error({ action: 'reload', reason }, 'pgbouncer configuration not written');
        return { kind: 'failed', reason } as const;
      }
      if (!changed) return { kind: 'unchanged' } as const;
      const current = this.running;
      if (current === null) return { kind: 'written' } as const;
      if (current.listen.host !== settings.listen.host || current.listen.port !== settings.listen.port) {
        const fields = { action: 'restart', pid: current.pid, reason: 'listen address changed' };
        this.opts.log.info(fields, 'restarting pgbouncer');
        current.replacing = true;
        await this.terminate(current);
        await this.launch();
        const now = this.running;
        return now === null ? ({ kind: 'written' } as const) : ({ kind: 'restarted', pid: now.pid } as const);
      }
      current.child.kill('SIGHUP');
      this.opts.log.info({ action: 'reload', pid: current.pid }, 'pgbouncer configuration changed; sent SIGHUP');
      return { kind: 'signalled', pid: current.pid } as const;
    });
  }

  /** Stops it (safe shutdown, SIGKILL after stopTimeoutMs) and cancels any pending restart. */
  stop(): Promise<void> {
    this.wanted = false;
    if (this.retry !== null) {
      clearTimeout(this.retry.timer);
      this.retry = null;
    }
    return this.serial.run(async () => {
      const current = this.running;
      if (current === null) return;
      // The agent stops PostgreSQL first, so no server connection is left to wait for.
      this.opts.log.info({ action: 'stop', pid: current.pid }, 'stopping pgbouncer');
      await this.terminate(current);
    });
  }

  /** SIGINT, PgBouncer's safe shutdown in every version; SIGKILL after stopTimeoutMs. */
  private async terminate(current: Running): Promise<void> {
    current.child.kill('SIGINT');
    const gone = await Promise.race([
      current.handled.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), this.opts.stopTimeoutMs).unref()),
    ]);
    if (!gone) {
      this.opts.log.warn({ action: 'stop', pid: current.pid, reason: 'timeout' }, 'pgbouncer still running; SIGKILL');
      current.child.kill('SIGKILL');
      await current.handled;
    }
  }

  private async launch(): Promise<void> {
    if (!this.wanted || this.running !== null) return;
    this.starting = true;
    try {
      await this.launchOnce();
    } finally {
      this.starting = false;
    }
  }

  private async launchOnce(): Promise<void> {
    const { bin, log } = this.opts;
    let settings: PgbouncerSettings;
    try {
      settings = this.opts.settings();
      if (await ensureCertificate(settings)) {
        const file = settings.paths.certFile;
        log.info({ action: 'certificate', file }, 'generated a self-signed certificate for pgbouncer');
      }
      await writePgbouncerFiles(settings);
      const stale = await clearStalePgbouncer(settings.paths, this.opts.stopTimeoutMs);
      if (stale !== null) {
        log.warn({ action: 'replace', pid: stale }, 'stopped a pgbouncer left running by an earlier agent');
      }
    } catch (err) {
      this.failed(errorText(err));
      return;
    }
    // -q: its messages go to its logfile only; not detached, so it is our child and its exit an event.
    const child = spawn(bin, ['-q', settings.paths.ini], {
      cwd: settings.paths.dir,
      stdio: 'ignore',
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    const exit = new Promise<ChildExit>((resolve) => {
      child.once('error', (err) => resolve({ kind: 'error', message: err.message }));
      child.once('exit', (code, signal) => resolve({ kind: 'exit', code, signal }));
    });
    const pid = child.pid;
    if (pid === undefined) {
      const result = await exit;
      this.failed(`cannot run ${bin}: ${result.kind === 'error' ? result.message : 'no process'}`);
      return;
    }
    const startedAt = this.opts.now();
    const listen = settings.listen;
    const running: Running = { child, pid, startedAt, listen, replacing: false, handled: Promise.resolve() };
    running.handled = exit.then((result) => this.exited(running, result, settings.paths.logFile));
    this.running = running;
    log.info({ action: 'start', pid, listen: `${settings.listen.host}:${settings.listen.port}` }, 'pgbouncer started');
  }

  private async exited(running: Running, result: ChildExit, logFile: string): Promise<void> {
    if (this.running === running) this.running = null;
    const code = result.kind === 'exit' ? result.code : null;
    const signal = result.kind === 'exit' ? result.signal : null;
    if (!this.wanted || running.replacing) {
      this.opts.log.info({ action: 'exit', pid: running.pid, code, signal, expected: true }, 'pgbouncer stopped');
      return;
    }
    if (this.opts.now() - running.startedAt >= this.opts.timing.stableMs) this.failures = 0;
    const said = await logTail(logFile);
    const reason = result.kind === 'error' ? result.message : `exited (code ${code ?? '-'}, signal ${signal ?? '-'})`;
    this.failed(said ? `${reason}: ${said}` : reason, { pid: running.pid, code, signal });
  }

  /** Counts a failure, logs it (repeats of the same reason at debug) and schedules the next start. */
  private failed(reason: string, exit?: { pid: number; code: number | null; signal: NodeJS.Signals | null }): void {
    if (!this.wanted) return;
    this.failures += 1;
    const delay = restartDelayMs(this.failures, this.opts.timing);
    const fields = { action: exit ? 'exit' : 'start', reason, failures: this.failures, retryInMs: delay, ...exit };
    const message = exit ? 'pgbouncer exited unexpectedly; restarting' : 'pgbouncer not started; retrying';
    if (exit !== undefined || reason !== this.lastReason) this.opts.log.warn(fields, message);
    else this.opts.log.debug(fields, message);
    this.lastReason = reason;
    const timer = setTimeout(() => {
      this.retry = null;
      void this.serial.run(() => this.launch());
    }, delay);
    timer.unref();
    this.retry = { timer, at: this.opts.now() + delay, reason };
  }
}
