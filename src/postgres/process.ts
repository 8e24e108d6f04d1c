// PostgresProcess owns one postmaster: it starts `postgres -D <data_dir>` as a child of the agent,
// so an exit is an event the moment it happens, and stops, restarts, reloads and promotes it.
//
// A postmaster already running when the agent starts (left by an earlier agent that died) is
// adopted, not restarted: restarting would cost a primary an outage just because its agent was
// upgraded or crashed. Its exit cannot be an OS event for a non-parent, so it is polled every
// `adoptPollMs` (200 ms by default) instead. The caller may restart it into a child whenever it
// is convenient; `state.owner` says which kind it has.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { PostgresError } from '../errors.ts';
import type { PgBinaries } from './binaries.ts';
import { postmasterAlive, readPostmasterPid } from './postmasterPid.ts';
import { runProgram } from './run.ts';

export type StopMode = 'smart' | 'fast' | 'immediate';

const STOP_SIGNAL: Record<StopMode, NodeJS.Signals> = { smart: 'SIGTERM', fast: 'SIGINT', immediate: 'SIGQUIT' };

export interface PostmasterExit {
  pid: number;
  /** null for an adopted postmaster, whose exit status is not ours to read. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when it exited after stop() asked it to. */
  expected: boolean;
}

export type ProcessState =
  | { kind: 'stopped' }
  | { kind: 'running'; pid: number; owner: 'child' | 'adopted' }
  | { kind: 'stopping'; pid: number; owner: 'child' | 'adopted'; mode: StopMode };

export type StartResult =
  /** Accepting connections ('standby' for a hot standby that reached consistency). */
  | { kind: 'ready'; pid: number; status: 'ready' | 'standby' }
  /** Still starting at the deadline (e.g. a replica replaying WAL); it keeps running. */
  | { kind: 'timeout'; pid: number }
  /** It exited while starting; `output` is the tail of its log. */
  | { kind: 'exited'; exit: PostmasterExit; output: string };

export type StopResult =
  | { kind: 'stopped'; exit: PostmasterExit }
  | { kind: 'not-running' }
  /** Still running at the deadline; the caller may escalate to a stronger mode. */
  | { kind: 'timeout'; pid: number };

export type RestartResult = StartResult | { kind: 'stop-timeout'; pid: number };

export interface PostgresProcessOptions {
  bin: PgBinaries;
  dataDir: string;
  log?: Logger;
  /** PostgreSQL's stderr is appended here; without it the last lines are kept in memory. */
  logFile?: string;
  adoptPollMs?: number;
}

interface Postmaster {
  pid: number;
  owner: 'child' | 'adopted';
  exited: Promise<PostmasterExit>;
  stopping: StopMode | null;
}

const TAIL_BYTES = 8 * 1024;
const READY_POLL_MS = 100;

export class PostgresProcess {
  readonly dataDir: string;
  private readonly bin: PgBinaries;
  private readonly log: Logger;
  private readonly logFile: string | undefined;
  private readonly adoptPollMs: number;
  private current: Postmaster | null = null;
  private readonly listeners = new Set<(exit: PostmasterExit) => void>();
  private outputTail = '';

  constructor(options: PostgresProcessOptions) {
    this.bin = options.bin;
    this.dataDir = options.dataDir;
    this.log = options.log ?? silentLogger;
    this.logFile = options.logFile;
    this.adoptPollMs = options.adoptPollMs ?? 200;
  }

  get state(): ProcessState {
    const pm = this.current;
    if (pm === null) return { kind: 'stopped' };
    if (pm.stopping !== null) return { kind: 'stopping', pid: pm.pid, owner: pm.owner, mode: pm.stopping };
    return { kind: 'running', pid: pm.pid, owner: pm.owner };
  }

  get pid(): number | null {
    return this.current?.pid ?? null;
  }

  /** Calls `listener` once per postmaster exit, expected or not. Returns an unsubscribe function. */
  onExit(listener: (exit: PostmasterExit) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Looks for a live postmaster on the data directory (from postmaster.pid) and takes it over.
   * Returns its pid, or null when none runs. A stale postmaster.pid is left for start() to clear.
   */
  async adoptRunning(): Promise<number | null> {
    if (this.current !== null) return this.current.pid;
    const entry = await readPostmasterPid(this.dataDir);
    if (entry === null || !(await postmasterAlive(entry, this.dataDir))) return null;
    const pid = entry.pid;
    const exited = new Promise<PostmasterExit>((resolve) => {
      const timer = setInterval(() => {
        void postmasterAlive(entry, this.dataDir).then((alive) => {
          if (alive) return;
          clearInterval(timer);
          resolve({ pid, code: null, signal: null, expected: this.current?.stopping != null });
        });
      }, this.adoptPollMs);
      timer.unref();
    });
    this.track({ pid, owner: 'adopted', exited, stopping: null });
    this.log.info({ action: 'adopt', pid }, 'adopted running postmaster');
    return pid;
  }

  /**
   * Starts the postmaster and waits until it accepts connections, at most `timeoutMs`.
   * Refuses when one is already running (ours or not: adopt it instead).
   */
  async start(opts: { timeoutMs: number; args?: string[] }): Promise<StartResult> {
    if (this.current !== null) throw new PostgresError('start', `postmaster ${this.current.pid} is already running`);
    const entry = await readPostmasterPid(this.dataDir);
    if (entry !== null) {
      if (await postmasterAlive(entry, this.dataDir)) {
        throw new PostgresError('start', `postmaster ${entry.pid} not started by this agent runs on ${this.dataDir}`);
      }
      // The pid is dead or now belongs to something else; postgres would refuse to start over it.
      await rm(`${this.dataDir}/postmaster.pid`, { force: true });
    }
    const child = this.spawnPostmaster(opts.args ?? []);
    const pid = child.pid!;
    const exited = new Promise<PostmasterExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ pid, code, signal, expected: this.current?.stopping != null }));
    });
    this.track({ pid, owner: 'child', exited, stopping: null });
    this.log.info({ action: 'start', pid }, 'postmaster started');
    return this.waitReady(pid, exited, opts.timeoutMs);
  }

  /** Sends the mode's signal (smart SIGTERM, fast SIGINT, immediate SIGQUIT) and waits for the exit. */
  async stop(mode: StopMode, opts: { timeoutMs: number }): Promise<StopResult> {
    const pm = this.current;
    if (pm === null) return { kind: 'not-running' };
    pm.stopping = mode;
    this.log.info({ action: 'stop', pid: pm.pid, mode }, 'stopping postmaster');
    try {
      process.kill(pm.pid, STOP_SIGNAL[mode]);
    } catch {
      // already gone; the exit promise settles on its own
    }
    const exit = await withTimeout(pm.exited, opts.timeoutMs);
    return exit === null ? { kind: 'timeout', pid: pm.pid } : { kind: 'stopped', exit };
  }

  /** Stops (in `mode`) and starts again; a failed stop is reported, not forced. */
  async restart(mode: StopMode, opts: { timeoutMs: number; args?: string[] }): Promise<RestartResult> {
    const stopped = await this.stop(mode, opts);
    if (stopped.kind === 'timeout') return { kind: 'stop-timeout', pid: stopped.pid };
    return this.start(opts);
  }

  /** SIGHUP: PostgreSQL rereads its configuration files (primary_conninfo is reloadable since 13). */
  reload(): void {
    const pm = this.current;
    if (pm === null) throw new PostgresError('reload', 'postgres is not running');
    process.kill(pm.pid, 'SIGHUP');
  }

  /** Ends recovery (pg_ctl promote) and waits until the server accepts writes. */
  async promote(opts: { timeoutMs: number }): Promise<void> {
    if (this.current === null) throw new PostgresError('promote', 'postgres is not running');
    const seconds = Math.max(1, Math.ceil(opts.timeoutMs / 1000));
    const result = await runProgram(
      this.bin.path('pg_ctl'),
      ['promote', '-D', this.dataDir, '-w', '-t', String(seconds)],
      {
        timeoutMs: opts.timeoutMs + 5000,
      },
    );
    if (result.code !== 0) {
      throw new PostgresError(
        'promote',
        `pg_ctl exit ${result.code ?? result.signal}: ${(result.stderr || result.stdout).trim()}`,
      );
    }
    this.log.info({ action: 'promote', pid: this.current.pid }, 'promoted');
  }

  /** The last few kilobytes of PostgreSQL's own output, for error reports. */
  async recentOutput(): Promise<string> {
    if (this.logFile === undefined) return this.outputTail;
    try {
      const handle = await open(this.logFile, 'r');
      try {
        const { size } = await handle.stat();
        const start = Math.max(0, size - TAIL_BYTES);
        const buffer = Buffer.alloc(size - start);
        await handle.read(buffer, 0, buffer.length, start);
        return buffer.toString('utf8');
      } finally {
        await handle.close();
      }
    } catch {
      return '';
    }
  }

  private spawnPostmaster(args: string[]): ChildProcess {
    // Not detached: the postmaster stays in the agent's process group and is our child, so its
    // exit arrives as an event. Output goes to a file when configured, so it outlives the agent.
    let fd: number | null = null;
    if (this.logFile !== undefined) fd = openSync(this.logFile, 'a', 0o600);
    try {
      const output = fd ?? 'pipe';
      const child = spawn(this.bin.path('postgres'), ['-D', this.dataDir, ...args], {
        stdio: ['ignore', output, output],
        env: { ...process.env, LC_MESSAGES: 'C' },
      });
      if (child.pid === undefined) throw new PostgresError('start', `cannot run ${this.bin.path('postgres')}`);
      this.outputTail = '';
      const keep = (chunk: Buffer): void => {
        this.outputTail = (this.outputTail + chunk.toString('utf8')).slice(-TAIL_BYTES);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      return child;
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }

  private track(pm: Postmaster): void {
    this.current = pm;
    void pm.exited.then((exit) => {
      if (this.current === pm) this.current = null;
      const level = exit.expected ? 'info' : 'warn';
      this.log[level](
        { action: 'exit', pid: exit.pid, code: exit.code, signal: exit.signal, expected: exit.expected },
        'postmaster exited',
      );
      for (const listener of this.listeners) listener(exit);
    });
  }

  private async waitReady(pid: number, exited: Promise<PostmasterExit>, timeoutMs: number): Promise<StartResult> {
    const deadline = Date.now() + timeoutMs;
    const seen: { exit: PostmasterExit | null } = { exit: null };
    void exited.then((e) => (seen.exit = e));
    for (;;) {
      const exit = seen.exit;
      if (exit !== null) {
        // Give the pipe a moment to deliver the last words before reporting them.
        await new Promise((r) => setImmediate(r));
        return { kind: 'exited', exit, output: await this.recentOutput() };
      }
      const entry = await readPostmasterPid(this.dataDir);
      if (entry?.pid === pid && (entry.status === 'ready' || entry.status === 'standby')) {
        return { kind: 'ready', pid, status: entry.status };
      }
      if (Date.now() >= deadline) return { kind: 'timeout', pid };
      await Promise.race([exited, new Promise((r) => setTimeout(r, READY_POLL_MS))]);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    void promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}
