// A PgBouncer left running by an earlier agent holds the pooler's port and pidfile; it is found by
// its pidfile and command line (our ini) and stopped, so a new child can take its place.
import { readFile, rm } from 'node:fs/promises';
import type { PgbouncerPaths } from './render.ts';

const GONE_POLL_MS = 50;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone in the meantime
  }
}

/** The pid in the pidfile when that process runs PgBouncer on our ini; null otherwise. */
export async function stalePgbouncerPid(paths: PgbouncerPaths): Promise<number | null> {
  let pid: number;
  try {
    pid = Number((await readFile(paths.pidFile, 'utf8')).trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return null;
  try {
    // A pid from before a reboot may belong to anything now: only one running our ini is ours.
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return cmdline.includes(paths.ini) ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Stops a leftover PgBouncer (SIGTERM, SIGKILL after `timeoutMs`) and removes a pidfile that
 * names no PgBouncer of ours. Returns the pid it stopped, or null.
 */
export async function clearStalePgbouncer(paths: PgbouncerPaths, timeoutMs: number): Promise<number | null> {
  const pid = await stalePgbouncerPid(paths);
  if (pid === null) {
    await rm(paths.pidFile, { force: true });
    return null;
  }
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() >= deadline) {
      signal(pid, 'SIGKILL');
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, GONE_POLL_MS));
  }
  while (alive(pid)) await new Promise((resolve) => setTimeout(resolve, GONE_POLL_MS));
  await rm(paths.pidFile, { force: true });
  return pid;
}
