// postmaster.pid: how a postmaster that is not our child (left by an earlier agent) is found.
import { readFile, realpath } from 'node:fs/promises';

export interface PostmasterPid {
  pid: number;
  dataDir: string;
  port: number | null;
  /** Line 8 since PostgreSQL 10: 'starting', 'stopping', 'ready' or 'standby'. */
  status: string | null;
}

/** Parses the lock file; null when it is incomplete (being written) or malformed. */
export function parsePostmasterPid(text: string): PostmasterPid | null {
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || lines.length < 2) return null;
  const port = Number(lines[3]);
  return {
    pid,
    dataDir: lines[1] ?? '',
    port: Number.isInteger(port) && port > 0 ? port : null,
    status: lines[7]?.trim() || null,
  };
}

export async function readPostmasterPid(dataDir: string): Promise<PostmasterPid | null> {
  try {
    return parsePostmasterPid(await readFile(`${dataDir}/postmaster.pid`, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * True when the pid is a live postgres for this data directory. A pid from a previous boot may
 * now belong to an unrelated process, so the command line is checked, not just the pid.
 */
export async function postmasterAlive(entry: PostmasterPid, dataDir: string): Promise<boolean> {
  try {
    process.kill(entry.pid, 0);
  } catch {
    // EPERM: alive but owned by someone else, so certainly not our postmaster.
    return false;
  }
  try {
    const cmdline = (await readFile(`/proc/${entry.pid}/cmdline`, 'utf8')).split('\0');
    if (!cmdline.some((arg) => /(^|\/)(postgres|postmaster)$/.test(arg))) return false;
    const [want, have] = await Promise.all([realpath(dataDir), realpath(entry.dataDir).catch(() => entry.dataDir)]);
    return want === have;
  } catch {
    return false;
  }
}
