// A software watchdog: a tiny separate process that stops a primary whose agent stopped making
// progress (hung, SIGSTOPped, or dead) before its leader key can expire and a replica can be
// promoted. Without it, a hung agent leaves a writable primary behind while another is promoted.
//
// The agent arms it after every cycle in which it confirmed the lock while PostgreSQL runs as
// primary, with a deadline: the lock confirmation plus ttl minus a safety margin. The watchdog
// polls that deadline and stops the postmaster immediately (SIGQUIT, which ends every backend
// at once; SIGKILL half a second later if it is still there) once it passes. A separate process
// is what makes this work: a stopped or dead agent cannot fence anything itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log.ts';

/**
 * Reads the arm file whenever `nap` returns, and sleeps until the deadline it holds (until woken,
 * when disarmed), so it fires within milliseconds of the deadline. Exits once its agent is gone and
 * it is disarmed; an armed watchdog outlives a dead agent on purpose, since the agent's PostgreSQL
 * may outlive it too. $1 the arm file, $2 the agent's pid; `clock` (sets $ms to the epoch in
 * milliseconds), `nap MS` (MS empty: as long as it may; returns early when woken) and `hold MS`
 * (never early) come before it from a preamble below.
 */
const LOOP = `
f="$1"; agent="$2"
while :; do
  next=""
  if [ -r "$f" ]; then
    deadline=""; read -r deadline pid dir < "$f" 2>/dev/null
    [ -n "$deadline" ] && clock
    if [ -n "$deadline" ] && [ "$ms" -gt "$deadline" ]; then
      # Only a live postmaster of this data directory: an arm file left by a dead agent may name
      # a pid that exited long ago or now belongs to something else.
      if tr '\\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-D $dir"; then
        kill -QUIT "$pid" 2>/dev/null; hold 500; kill -KILL "$pid" 2>/dev/null
        echo "watchdog: lock not confirmed in time; stopped postmaster $pid" >&2
      fi
      rm -f "$f"
    elif [ -n "$deadline" ]; then
      next=$((deadline - ms + 1))
    fi
  elif ! kill -0 "$agent" 2>/dev/null; then
    exit 0
  fi
  nap "$next"
done
`;

/**
 * bash keeps the loop free of child processes: the clock is $EPOCHREALTIME (digits only, so a
 * locale's decimal comma does not matter; bash before 5.0 has none and forks `date`), `hold` a
 * `read -t` on a pipe nobody writes to, and `nap` a `read -t` on its stdin, a pipe from the agent,
 * which writes a line there whenever it arms, moves or disarms the deadline: an idle watchdog does
 * not wake at all. Once that pipe ends (the agent is gone) it naps a second at most, to see the
 * arm file change. A POSIX shell forks `date` and `sleep` on every round instead, once a second.
 */
const BASH = `if [ -n "\${EPOCHREALTIME:-}" ]; then clock() { ms=\${EPOCHREALTIME//[!0-9]/}; ms=$((ms / 1000)); }
else clock() { ms=$(date +%s%3N); }; fi
exec 9<> <(:)
hold() { local t; printf -v t '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); read -r -t "$t" -u 9; }
agentpipe=1
nap() {
  local t
  if [ -z "$agentpipe" ]; then hold $(( \${1:-1000} < 1000 ? \${1:-1000} : 1000 )); return 0; fi
  if [ -z "$1" ]; then read -r -u 0 || agentpipe=""; return 0; fi
  printf -v t '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
  read -r -t "$t" -u 0
  [ $? -eq 1 ] && agentpipe=""
  return 0
}
`;
const POSIX = `clock() { ms=$(date +%s%3N); }
hold() { sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"; }
nap() { t=\${1:-1000}; [ "$t" -gt 1000 ] && t=1000; hold "$t"; }
`;

/** The watchdog's shell and script: bash when the machine has it, else /bin/sh. */
export function watchdogCommand(bashPath: string | null): [string, string] {
  return bashPath === null ? ['/bin/sh', POSIX + LOOP] : [bashPath, BASH + LOOP];
}

function findBash(): string | null {
  return ['/bin/bash', '/usr/bin/bash'].find((p) => existsSync(p)) ?? null;
}

/** How long before the lease could expire the watchdog fires: a quarter of ttl, at least 2 s. */
export function watchdogDeadline(confirmedAt: number, ttlSeconds: number): number {
  const marginMs = Math.max(2000, ttlSeconds * 250);
  return confirmedAt + ttlSeconds * 1000 - marginMs;
}

export class SoftWatchdog {
  readonly armFile: string;
  private child: ChildProcess | null = null;
  /** Between start() and stop(): a watchdog process should be running. */
  private running = false;
  private armed: string | null = null;

  /** `bashPath`: the bash to run the loop with, null for /bin/sh (default: bash when the machine has it). */
  constructor(
    key: string,
    private readonly log: Logger,
    private readonly bashPath: string | null = findBash(),
  ) {
    this.armFile = join(tmpdir(), `shardherd-watchdog-${key.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  }

  start(): void {
    if (this.child !== null) return;
    this.running = true;
    const [shell, script] = watchdogCommand(this.bashPath);
    const child = spawn(shell, ['-c', script, 'shardherd-watchdog', this.armFile, String(process.pid)], {
      // stdin: where the bash loop is woken (see BASH); the POSIX one polls instead.
      stdio: [this.bashPath === null ? 'ignore' : 'pipe', 'ignore', 'pipe'],
      // Its own process group: a signal meant for the agent's group must not stop the fence.
      detached: true,
    });
    this.child = child;
    child.stderr?.on('data', (chunk: Buffer) => this.log.error({ action: 'watchdog' }, chunk.toString().trim()));
    // Killed by someone else: the next arm starts another, which reads the arm file as it starts.
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = null;
      this.log.error(
        { action: 'watchdog', code, signal },
        'the watchdog process ended; another starts with the next arm',
      );
    });
    child.stdin?.on('error', () => undefined);
    (child.stdin as Socket | null)?.unref();
    child.unref();
  }

  /** Tells the watchdog the arm file changed, so it reads it now rather than at the old deadline. */
  private wake(): void {
    this.child?.stdin?.write('\n');
  }

  /** Arms (or moves) the deadline for the postmaster `postmasterPid` of `dataDir`; no write when nothing changed. */
  async arm(deadline: number, postmasterPid: number, dataDir: string): Promise<void> {
    const content = `${Math.floor(deadline)} ${postmasterPid} ${dataDir}\n`;
    if (this.running) this.start();
    if (content === this.armed) return;
    const tmp = `${this.armFile}.tmp`;
    await writeFile(tmp, content, { mode: 0o600 });
    await rename(tmp, this.armFile);
    this.armed = content;
    this.wake();
  }

  async disarm(): Promise<void> {
    if (this.armed === null) return;
    await rm(this.armFile, { force: true });
    this.armed = null;
    this.wake();
  }

  /** Disarms and ends the watchdog process (agent shutdown). */
  async stop(): Promise<void> {
    this.running = false;
    await this.disarm();
    const child = this.child;
    this.child = null;
    child?.kill('SIGTERM');
  }
}
