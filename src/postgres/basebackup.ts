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

/** How far a clone got, from pg_basebackup's `--progress` lines. */
export interface CloneProgress {
  done_kb: number;
  /** The server's estimate; null when it gave none (`--no-estimate-size`). */
  total_kb: number | null;
  percent: number | null;
}

/** `12345/67890 kB (18%), 0/1 tablespace (...)` or `12345 kB (...)`; null for any other line. */
export function parseBasebackupProgress(line: string): CloneProgress | null {
  const m = /^\s*(\d+)(?:\/(\d+))? kB(?: \((\d+)%\))?/.exec(line);
  if (m === null) return null;
  return {
    done_kb: Number(m[1]),
    total_kb: m[2] === undefined ? null : Number(m[2]),
    percent: m[3] === undefined ? null : Number(m[3]),
  };
}

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
  if (!given('progress', 'P')) args.push('--progress');
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
  params: {
    dataDir: string;
    from: ConnParams;
    options: BasebackupOption[];
    timeoutMs?: number;
    /** Each progress report (about once a second). */
    onProgress?: (progress: CloneProgress) => void;
  },
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
    onStderrLine: (line) => {
      const progress = parseBasebackupProgress(line);
      if (progress !== null) params.onProgress?.(progress);
    },
  });
  if (result.code === 0) return { kind: 'done' };
  await removeDataDirectory(params.dataDir);
  const why = result.timedOut ? 'timed out' : `exit ${result.code ?? result.signal}`;
  // The progress reports say nothing about why it failed.
  const stderr = result.stderr
    .split(/\r\n|\r|\n/)
    .filter((line) => parseBasebackupProgress(line) === null)
    .join('\n')
    .trim();
  return { kind: 'failed', reason: `${why}: ${stderr || result.stdout.trim()}` };
}
