// The data directory: created 0700 (PostgreSQL refuses looser modes), inspected, and emptied.
import { chmod, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PostgresError, errorText } from '../errors.ts';
import { readPostmasterPid, postmasterAlive } from './postmasterPid.ts';

export type DataDirState =
  { kind: 'missing' } | { kind: 'empty' } | { kind: 'initialized'; version: string } | { kind: 'foreign' };

/** 'foreign' means files are there but no PG_VERSION: not something to start, clone into or delete silently. */
export async function dataDirectoryState(dataDir: string): Promise<DataDirState> {
  let entries: string[];
  try {
    entries = await readdir(dataDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw new PostgresError('data_dir', `cannot read ${dataDir}: ${errorText(err)}`);
  }
  if (entries.length === 0) return { kind: 'empty' };
  if (!entries.includes('PG_VERSION')) return { kind: 'foreign' };
  return { kind: 'initialized', version: (await readFile(join(dataDir, 'PG_VERSION'), 'utf8')).trim() };
}

/** Creates the directory (and parents) owned by the agent's user, and forces mode 0700. */
export async function ensureDataDirectory(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const info = await stat(dataDir);
  if (process.geteuid && info.uid !== process.geteuid()) {
    throw new PostgresError('data_dir', `${dataDir} is owned by uid ${info.uid}, not by the agent's user`);
  }
  if ((info.mode & 0o777) !== 0o700) await chmod(dataDir, 0o700);
}

/**
 * Empties the data directory (keeping the directory itself, so its owner and mode survive and the
 * parent need not be writable). Refuses while a postmaster runs on it.
 */
export async function removeDataDirectory(dataDir: string): Promise<void> {
  const pid = await readPostmasterPid(dataDir);
  if (pid !== null && (await postmasterAlive(pid, dataDir))) {
    throw new PostgresError('remove data directory', `postmaster ${pid.pid} is running on ${dataDir}`);
  }
  let entries: string[];
  try {
    entries = await readdir(dataDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  // A symlinked pg_wal points elsewhere; removing the link leaves the target, as it is not ours to judge.
  await Promise.all(entries.map((name) => rm(join(dataDir, name), { recursive: true, force: true })));
}
