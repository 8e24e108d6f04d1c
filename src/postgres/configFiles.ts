// Writes the managed configuration into a data directory without losing the user's files:
// the original postgresql.conf and pg_hba.conf are renamed once, never overwritten.
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BASE_CONF,
  isManaged,
  managedParameters,
  renderHba,
  renderPostgresqlConf,
  type ManagedSettings,
} from './confRender.ts';
import { pathExists, readTextOrNull } from './fileRead.ts';

export interface ManagedFiles extends ManagedSettings {
  /** Lines for pg_hba.conf; null leaves the file alone. */
  hba: string[] | null;
}

/** Writes a file through a temporary name so PostgreSQL never reads half of it. Returns whether it changed. */
async function replaceFile(path: string, content: string): Promise<boolean> {
  if ((await readTextOrNull(path)) === content) return false;
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, content, { mode: 0o600 });
  await rename(tmp, path);
  return true;
}

/** Keeps the user's own file as `saved` the first time; a file already managed is not kept. */
async function preserveUserFile(path: string, saved: string): Promise<void> {
  if (await pathExists(saved)) return;
  const content = await readTextOrNull(path);
  if (content === null) {
    await writeFile(saved, '', { mode: 0o600 });
  } else if (!isManaged(content)) {
    await rename(path, saved);
  }
}

/**
 * Renders postgresql.conf, pg_hba.conf (when lines are given) and standby.signal. Returns whether
 * anything changed, so the caller knows to reload. Also after pg_basebackup or pg_rewind, which
 * copy the source's managed files: they are simply re-rendered for this member.
 */
export async function writeManagedConfig(dataDir: string, files: ManagedFiles): Promise<{ changed: boolean }> {
  const conf = join(dataDir, 'postgresql.conf');
  await preserveUserFile(conf, join(dataDir, BASE_CONF));
  let changed = await replaceFile(conf, renderPostgresqlConf(managedParameters(files)));
  if (files.hba !== null) {
    const hba = join(dataDir, 'pg_hba.conf');
    // pg_hba.conf has no include directive before PostgreSQL 16; the original is kept for reference only.
    await preserveUserFile(hba, join(dataDir, 'pg_hba.base.conf'));
    changed = (await replaceFile(hba, renderHba(files.hba))) || changed;
  }
  changed = (await setStandbySignal(dataDir, files.standby !== null)) || changed;
  return { changed };
}

/** Creates or removes standby.signal (and a stray recovery.signal); returns whether it changed. */
export async function setStandbySignal(dataDir: string, standby: boolean): Promise<boolean> {
  const signal = join(dataDir, 'standby.signal');
  const had = await pathExists(signal);
  if (standby && !had) await writeFile(signal, '', { mode: 0o600 });
  if (!standby && had) await rm(signal, { force: true });
  await rm(join(dataDir, 'recovery.signal'), { force: true });
  return had !== standby;
}
