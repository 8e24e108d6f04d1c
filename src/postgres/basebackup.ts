// Clones a replica with pg_basebackup into the (empty) data directory, from the leader or from a
// member tagged `clonefrom`. A failed attempt is cleaned up so the next one starts from nothing.
import type { BasebackupOption } from '../config/types.ts';
import { PostgresError } from '../errors.ts';
import type { PgBinaries } from './binaries.ts';
import { formatConnInfo, type ConnParams } from './connInfo.ts';
import { dataDirectoryState, ensureDataDirectory, removeDataDirectory } from './dataDir.ts';
import { optionArgs } from './initdb.ts';
import { runProgram } from './run.ts';

const RESERVED = new Set([
  'pgdata',
  'D',
  'dbname',
  'd',
  'host',
  'h',
  'port',
  'p',
  'username',
  'U',
  'format',
  'F',
  'write-recovery-conf',
  'R',
]);

/**
 * The command line. `--checkpoint=fast` and `-X stream` are defaults a user option replaces:
 * a spread checkpoint can delay a new replica by minutes on a freshly written primary.
 */
export function basebackupArgs(dataDir: string, from: ConnParams, options: BasebackupOption[]): string[] {
  const user = optionArgs('pg_basebackup', options, RESERVED);
  const given = (...names: string[]): boolean =>
    user.some((a) => names.some((n) => a === `--${n}` || a.startsWith(`--${n}=`)));
  const args = ['-D', dataDir, '-d', formatConnInfo(from)];
  if (!given('checkpoint', 'c')) args.push('--checkpoint=fast');
  if (!given('wal-method', 'X')) args.push('--wal-method=stream');
  return [...args, ...user];
}

export type BasebackupResult = { kind: 'done' } | { kind: 'failed'; reason: string };

/**
 * `from` should carry `passfile` (and `application_name`) rather than a password. The data
 * directory must be missing or empty. The copied postgresql.conf is the source's: write this
 * member's managed configuration before starting.
 */
export async function basebackup(
  bin: PgBinaries,
  params: { dataDir: string; from: ConnParams; options: BasebackupOption[]; timeoutMs?: number },
): Promise<BasebackupResult> {
  const state = await dataDirectoryState(params.dataDir);
  if (state.kind !== 'missing' && state.kind !== 'empty') {
    throw new PostgresError('pg_basebackup', `${params.dataDir} is not empty`);
  }
  await ensureDataDirectory(params.dataDir);
  const args = basebackupArgs(params.dataDir, params.from, params.options);
  const result = await runProgram(bin.path('pg_basebackup'), args, {
    env: { PGOPTIONS: '-c statement_timeout=0' },
    timeoutMs: params.timeoutMs ?? 24 * 3600_000,
  });
  if (result.code === 0) return { kind: 'done' };
  await removeDataDirectory(params.dataDir);
  const why = result.timedOut ? 'timed out' : `exit ${result.code ?? result.signal}`;
  return { kind: 'failed', reason: `${why}: ${(result.stderr || result.stdout).trim()}` };
}
