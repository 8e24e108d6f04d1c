// initdb with the configured options, the superuser from `postgresql.authentication`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InitdbOption, UserAuth } from '../config/types.ts';
import { PostgresError } from '../errors.ts';
import type { PgBinaries } from './binaries.ts';
import { ensureDataDirectory, removeDataDirectory } from './dataDir.ts';
import { runProgram } from './run.ts';

/** Options Shardherd sets itself; a user value would silently fight it. */
const RESERVED = new Set(['pgdata', 'D', 'username', 'U', 'pwfile', 'pwprompt', 'W']);

/** Turns Patroni-style options (`data-checksums`, `{encoding: UTF8}`) into command-line arguments. */
export function optionArgs(command: string, options: InitdbOption[], reserved: Set<string>): string[] {
  const args: string[] = [];
  const add = (name: string, value: string | null): void => {
    if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(name)) throw new PostgresError(command, `invalid option name '${name}'`);
    if (reserved.has(name))
      throw new PostgresError(command, `option '${name}' is set by shardherd and cannot be configured`);
    args.push(value === null ? `--${name}` : `--${name}=${value}`);
  };
  for (const option of options) {
    if (typeof option === 'string') {
      add(option, null);
    } else {
      const entries = Object.entries(option);
      if (entries.length !== 1)
        throw new PostgresError(command, `each option map must have exactly one key, got ${entries.length}`);
      const [name, value] = entries[0]!;
      add(name, String(value));
    }
  }
  return args;
}

export function initdbArgs(
  dataDir: string,
  options: InitdbOption[],
  superuser: UserAuth,
  pwfile: string | null,
): string[] {
  const args = ['-D', dataDir, `--username=${superuser.username}`, ...optionArgs('initdb', options, RESERVED)];
  if (pwfile !== null) args.push(`--pwfile=${pwfile}`);
  return args;
}

/**
 * Runs initdb into an empty or missing data directory. The superuser's password goes through a
 * short-lived private temporary file, never on the command line. On failure the
 * half-made directory is emptied so a retry starts clean.
 */
export async function initdb(
  bin: PgBinaries,
  params: { dataDir: string; options: InitdbOption[]; superuser: UserAuth; timeoutMs?: number },
): Promise<void> {
  await ensureDataDirectory(params.dataDir);
  let pwdir: string | null = null;
  let pwfile: string | null = null;
  if (params.superuser.password !== undefined) {
    pwdir = await mkdtemp(join(tmpdir(), 'shardherd-initdb-'));
    pwfile = join(pwdir, 'pwfile');
    await writeFile(pwfile, params.superuser.password + '\n', { mode: 0o600 });
  }
  try {
    const result = await runProgram(
      bin.path('initdb'),
      initdbArgs(params.dataDir, params.options, params.superuser, pwfile),
      {
        timeoutMs: params.timeoutMs ?? 300_000,
      },
    );
    if (result.code !== 0) {
      await removeDataDirectory(params.dataDir);
      throw new PostgresError(
        'initdb',
        `exit ${result.code ?? result.signal}: ${result.stderr.trim() || result.stdout.trim()}`,
      );
    }
  } finally {
    if (pwdir !== null) await rm(pwdir, { recursive: true, force: true });
  }
}
