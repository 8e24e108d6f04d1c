// Where the PostgreSQL programs live: the configured bin_dir, else a PATH entry holding the
// server programs, else the newest /usr/lib/postgresql/<version>/bin (Debian's layout).
import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { PostgresError } from '../errors.ts';

export type PgProgram = 'postgres' | 'initdb' | 'pg_ctl' | 'pg_basebackup' | 'pg_rewind' | 'pg_controldata';

export interface PgBinaries {
  readonly dir: string;
  path(program: PgProgram): string;
}

/** Programs a directory must hold to count as a PostgreSQL bin directory. */
const REQUIRED: PgProgram[] = ['postgres', 'initdb', 'pg_ctl', 'pg_controldata'];

/** Picks the newest version among directory names such as ['9.6', '15', '13']; null when none is numeric. */
export function newestVersionDir(names: string[]): string | null {
  const versions = names
    .filter((n) => /^\d+(\.\d+)?$/.test(n))
    .map((n) => ({ n, key: n.split('.').map(Number) as [number, number?] }))
    .sort((a, b) => b.key[0] - a.key[0] || (b.key[1] ?? 0) - (a.key[1] ?? 0));
  return versions[0]?.n ?? null;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function hasServerPrograms(dir: string): boolean {
  return REQUIRED.every((p) => isExecutable(join(dir, p)));
}

export function binariesAt(dir: string): PgBinaries {
  return { dir, path: (program) => join(dir, program) };
}

/**
 * Resolves the bin directory. `configured` is `postgresql.bin_dir` ('' when unset); the other
 * options exist so tests can point the search elsewhere.
 */
export function resolveBinaries(
  configured: string,
  options: { pathEnv?: string; versionsRoot?: string } = {},
): PgBinaries {
  if (configured !== '') {
    if (!hasServerPrograms(configured)) {
      throw new PostgresError('bin_dir', `${configured} does not contain ${REQUIRED.join(', ')}`);
    }
    return binariesAt(configured);
  }
  const pathEnv = options.pathEnv ?? process.env.PATH ?? '';
  for (const dir of pathEnv.split(delimiter).filter(Boolean)) {
    if (hasServerPrograms(dir)) return binariesAt(dir);
  }
  const root = options.versionsRoot ?? '/usr/lib/postgresql';
  let names: string[] = [];
  try {
    names = readdirSync(root);
  } catch {
    // no Debian layout on this machine; fall through to the error below
  }
  const candidates = names.filter((n) => hasServerPrograms(join(root, n, 'bin')));
  const newest = newestVersionDir(candidates);
  if (newest !== null) return binariesAt(join(root, newest, 'bin'));
  throw new PostgresError(
    'bin_dir',
    `PostgreSQL programs not found: set postgresql.bin_dir, or put them on PATH or under ${root}/<version>/bin`,
  );
}
