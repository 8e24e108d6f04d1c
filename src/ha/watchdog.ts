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
import { rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log.ts';

/**
 * Polls the arm file every 200 ms. Exits once its agent is gone and it is disarmed; an armed
 * watchdog outlives a dead agent on purpose, since the agent's PostgreSQL may outlive it too.
 */
const SCRIPT = `
f="$1"; agent="$2"
while :; do
  if [ -r "$f" ]; then
    read deadline pid dir < "$f" 2>/dev/null || deadline=""
    if [ -n "$deadline" ] && [ "$(date +%s%3N)" -gt "$deadline" ]; then
      # Only a live postmaster of this data directory: an arm file left by a dead agent may name
      # a pid that exited long ago or now belongs to something else.
      if tr '\\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-D $dir"; then
        kill -QUIT "$pid" 2>/dev/null; sleep 0.5; kill -KILL "$pid" 2>/dev/null
        echo "watchdog: lock not confirmed in time; stopped postmaster $pid" >&2
      fi
      rm -f "$f"
    fi
  elif ! kill -0 "$agent" 2>/dev/null; then
    exit 0
  fi
  sleep 0.2
done
`;

/** How long before the lease could expire the watchdog fires: a quarter of ttl, at least 2 s. */
export function watchdogDeadline(confirmedAt: number, ttlSeconds: number): number {
  const marginMs = Math.max(2000, ttlSeconds * 250);
  return confirmedAt + ttlSeconds * 1000 - marginMs;
}

export class SoftWatchdog {
  readonly armFile: string;
  private child: ChildProcess | null = null;
  private armed: string | null = null;

  constructor(
    key: string,
    private readonly log: Logger,
  ) {
    this.armFile = join(tmpdir(), `shardherd-watchdog-${key.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  }

  start(): void {
    if (this.child !== null) return;
    this.child = spawn('/bin/sh', ['-c', SCRIPT, 'shardherd-watchdog', this.armFile, String(process.pid)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      // Its own process group: a signal meant for the agent's group must not stop the fence.
      detached: true,
    });
    this.child.stderr?.on('data', (chunk: Buffer) => this.log.error({ action: 'watchdog' }, chunk.toString().trim()));
    this.child.unref();
  }

  /** Arms (or moves) the deadline for the postmaster `postmasterPid` of `dataDir`; no write when nothing changed. */
  async arm(deadline: number, postmasterPid: number, dataDir: string): Promise<void> {
    const content = `${Math.floor(deadline)} ${postmasterPid} ${dataDir}\n`;
    if (content === this.armed) return;
    const tmp = `${this.armFile}.tmp`;
    await writeFile(tmp, content, { mode: 0o600 });
    await rename(tmp, this.armFile);
    this.armed = content;
  }

  async disarm(): Promise<void> {
    if (this.armed === null) return;
    await rm(this.armFile, { force: true });
    this.armed = null;
  }

  /** Disarms and ends the watchdog process (agent shutdown). */
  async stop(): Promise<void> {
    await this.disarm();
    this.child?.kill('SIGTERM');
    this.child = null;
  }
}
