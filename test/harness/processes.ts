// Child processes started by tests: each runs in its own process group and carries a marker
// in its environment, so it and everything it starts can be found and killed at cleanup.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { onCleanup } from './cleanup.ts';
import { environValue, isAlive, listProcesses } from './procfs.ts';
import { unprivilegedUser } from './user.ts';

/**
 * Environment variable tagging a managed process and its descendants. Process groups alone
 * are not enough: pg_ctl, for one, starts the postmaster in a new session of its own.
 */
export const MARKER_ENV = 'SHARDHERD_HARNESS_TAG';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Added to (and overriding) the test process's environment. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Run as unprivilegedUser() (when running as root). */
  asUnprivileged?: boolean;
  /** Also append stdout and stderr to this file. */
  logFile?: string;
  /** Names the process in errors and cleanup reports. */
  name: string;
  /** Signal for a graceful stop (default SIGTERM; PostgreSQL's fast shutdown is SIGINT). */
  stopSignal?: NodeJS.Signals;
}

/**
 * Whom a signal reaches: the process alone, its process group, or the whole tree (the group
 * plus every process carrying its marker, e.g. a daemon that moved to its own session).
 */
export type KillTarget = 'process' | 'group' | 'tree';

const OUTPUT_LIMIT = 1 << 20;
const CLEANUP_GRACE_MS = 2000;

let counter = 0;
let orphansSwept = false;

export class ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  readonly tag: string;
  readonly #stopSignal: NodeJS.Signals;
  #output = '';
  #status: ExitStatus | undefined;

  constructor(child: ChildProcess, name: string, tag: string, opts: SpawnOptions) {
    if (child.pid === undefined) throw new Error(`spawn ${name}: no pid`);
    this.name = name;
    this.pid = child.pid;
    this.tag = tag;
    this.#stopSignal = opts.stopSignal ?? 'SIGTERM';
    let log: WriteStream | undefined;
    if (opts.logFile !== undefined) log = createWriteStream(opts.logFile, { flags: 'a' });
    const collect = (chunk: Buffer): void => {
      // Keep the tail: the end of the output is what explains a failure.
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
      log?.write(chunk);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    // 'exit', not 'close': a descendant that inherited stdout would hold 'close' back.
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.#status = { code, signal };
        resolve(this.#status);
      });
    });
    child.on('close', () => log?.end());
  }

  /** stdout and stderr so far, interleaved as received (the last megabyte). */
  output(): string {
    return this.#output;
  }

  /** True until the process itself has exited (its descendants may live on). */
  get running(): boolean {
    return this.#status === undefined;
  }

  /** Sends a signal, by default SIGKILL to the whole tree: a crash of the node it stands for. */
  kill(signal: NodeJS.Signals = 'SIGKILL', target: KillTarget = 'tree'): void {
    switch (target) {
      case 'process':
        signalPid(this.pid, signal);
        return;
      case 'group':
        signalPid(-this.pid, signal);
        return;
      case 'tree':
        for (const pid of this.treePids()) signalPid(pid, signal);
        signalPid(-this.pid, signal);
        return;
    }
  }

  /**
   * Graceful stop: the stop signal to the group, SIGKILL to the tree if the process has not
   * exited within timeoutMs, and SIGKILL to whatever of the tree is left afterwards.
   */
  async stop(timeoutMs = 10_000): Promise<ExitStatus> {
    if (this.running) {
      this.kill(this.#stopSignal, 'group');
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), timeoutMs).unref()),
      ]);
      if (timedOut) this.kill('SIGKILL', 'tree');
    }
    const status = await this.exited;
    await this.#killRest(0);
    return status;
  }

  /** Pids of the living group members and marker carriers. */
  treePids(): number[] {
    return listProcesses()
      .filter((p) => p.pgid === this.pid || environValue(p.pid, MARKER_ENV) === this.tag)
      .map((p) => p.pid);
  }

  /** Cleanup: the stop signal to the tree, then SIGKILL after a short grace. */
  async terminate(): Promise<void> {
    await this.#killRest(CLEANUP_GRACE_MS);
  }

  killSync(): void {
    this.kill('SIGKILL', 'tree');
  }

  async #killRest(graceMs: number): Promise<void> {
    let pids = this.treePids();
    if (pids.length === 0) return;
    if (graceMs > 0) {
      for (const pid of pids) signalPid(pid, this.#stopSignal);
      await waitGone(pids, graceMs);
      pids = this.treePids();
    }
    for (const pid of pids) signalPid(pid, 'SIGKILL');
    await waitGone(pids, 5000);
    const left = pids.filter(isAlive);
    if (left.length > 0) throw new Error(`${this.name}: processes ${left.join(', ')} survived SIGKILL`);
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    // ESRCH: already gone, which is what we want.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitGone(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Kills leftovers of earlier runs that died without cleaning up (SIGKILL cannot be caught):
 * marked processes whose owning test process no longer exists.
 */
function sweepOrphans(): void {
  for (const p of listProcesses()) {
    const tag = environValue(p.pid, MARKER_ENV);
    const owner = Number(tag?.split('.')[0]);
    if (tag !== undefined && owner > 0 && owner !== process.pid && !isAlive(owner)) {
      signalPid(p.pid, 'SIGKILL');
    }
  }
}

/** Starts a process that cleanup() will stop, together with everything it starts. */
export function spawnManaged(cmd: string, args: readonly string[], opts: SpawnOptions): ManagedProcess {
  if (!orphansSwept) {
    orphansSwept = true;
    sweepOrphans();
  }
  const tag = `${process.pid}.${++counter}`;
  const user = opts.asUnprivileged === true ? unprivilegedUser() : null;
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, [MARKER_ENV]: tag };
  if (user !== null) {
    env.HOME = user.home;
    env.USER = env.LOGNAME = user.name;
  }
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env,
    // Own process group (and session), so one signal reaches the process and its children.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user !== null ? { uid: user.uid, gid: user.gid } : {}),
  });
  // A failed exec (ENOENT, EACCES) leaves no pid; its 'error' event needs a listener.
  child.on('error', () => {});
  if (child.pid === undefined) throw new Error(`spawn ${opts.name}: cannot start ${cmd}`);
  const managed = new ManagedProcess(child, opts.name, tag, opts);
  onCleanup(`stop ${opts.name} (pid ${managed.pid})`, () => managed.terminate(), {
    phase: 'processes',
    runSync: () => managed.killSync(),
  });
  return managed;
}
