// pg_rewind of a diverged old primary against the new one, after making sure the old data
// directory was shut down cleanly (pg_rewind refuses otherwise).
import pg from 'pg';
import { PostgresError, errorText } from '../errors.ts';
import type { PgBinaries } from './binaries.ts';
import { clientConfig, formatConnInfo, type ConnParams } from './connInfo.ts';
import { setStandbySignal } from './configFiles.ts';
import { readControlData } from './controlData.ts';
import { postmasterAlive, readPostmasterPid } from './postmasterPid.ts';
import { PRIMARY_TIMELINE } from './queries.ts';

import { runProgram } from './run.ts';

/** `output` is pg_rewind's report, for the log (e.g. 'no rewind required' or 'Done!'). */
export type RewindResult = { kind: 'rewound'; output: string } | { kind: 'failed'; reason: string };

/**
 * Crash recovery without opening the server to anyone: `postgres --single` replays WAL and writes
 * a shutdown checkpoint when its stdin ends. Retried briefly because backends of a postmaster
 * killed a moment ago may still hold its shared memory.
 */
export async function ensureCleanShutdown(
  bin: PgBinaries,
  dataDir: string,
  opts: { timeoutMs: number },
): Promise<void> {
  const control = await readControlData(bin, dataDir);
  if (control.cleanShutdown) return;
  // A standby.signal would make single-user mode refuse to start; the caller renders it again afterwards.
  await setStandbySignal(dataDir, false);
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const result = await runProgram(
      bin.path('postgres'),
      // Unarchived WAL must not be recycled by the final checkpoint, hence archive_mode with a failing command.
      ['--single', '-D', dataDir, '-c', 'archive_mode=on', '-c', 'archive_command=false', 'template1'],
      { env: { LC_MESSAGES: 'C' }, timeoutMs: Math.max(1000, deadline - Date.now()) },
    );
    if (result.code === 0) return;
    const output = (result.stderr || result.stdout).trim();
    if (!/shared memory block .* still in use/.test(output) || Date.now() >= deadline) {
      throw new PostgresError('single-user recovery', `exit ${result.code ?? result.signal}: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * pg_rewind reads the source's pg_control for its timeline, which only changes at a checkpoint;
 * right after a promotion it may still show the old one, and pg_rewind would see nothing to do.
 */
async function prepareSource(source: ConnParams): Promise<string | null> {
  const client = new pg.Client(clientConfig({ ...source, database: source.database ?? 'postgres' }));
  try {
    await client.connect();
    const recovery = await client.query<{ recovery: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS recovery');
    if (recovery.rows[0]!.recovery) return 'source is in recovery, not a primary';
    const checkpoint = await client.query<{ checkpointed: boolean }>(
      `SELECT ${PRIMARY_TIMELINE} = timeline_id AS checkpointed FROM pg_catalog.pg_control_checkpoint()`,
    );
    if (!checkpoint.rows[0]!.checkpointed) await client.query('CHECKPOINT');
    return null;
  } catch (err) {
    return `source not usable: ${errorText(err)}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Rewinds the stopped data directory to the source primary. `source` needs a password (for the
 * agent's own check and CHECKPOINT, which the rewind role may run through pg_checkpoint) and a
 * `passfile` (for pg_rewind itself). pg_rewind copies the source's configuration files: write
 * this member's managed configuration and standby.signal before starting.
 */
export async function rewind(
  bin: PgBinaries,
  params: { dataDir: string; source: ConnParams; timeoutMs?: number },
): Promise<RewindResult> {
  const timeoutMs = params.timeoutMs ?? 3600_000;
  const pid = await readPostmasterPid(params.dataDir);
  if (pid !== null && (await postmasterAlive(pid, params.dataDir))) {
    throw new PostgresError('pg_rewind', `postgres ${pid.pid} is running on ${params.dataDir}; stop it first`);
  }
  await ensureCleanShutdown(bin, params.dataDir, { timeoutMs: Math.min(timeoutMs, 300_000) });
  const problem = await prepareSource(params.source);
  if (problem !== null) return { kind: 'failed', reason: problem };
  // formatConnInfo leaves the password out: pg_rewind reads it from the passfile.
  const conninfo = formatConnInfo({ ...params.source, database: params.source.database ?? 'postgres' });
  const result = await runProgram(bin.path('pg_rewind'), ['-D', params.dataDir, `--source-server=${conninfo}`], {
    env: { PGOPTIONS: '-c statement_timeout=0', LC_MESSAGES: 'C' },
    timeoutMs,
  });
  if (result.code === 0) return { kind: 'rewound', output: (result.stdout + result.stderr).trim() };
  const why = result.timedOut ? 'timed out' : `exit ${result.code ?? result.signal}`;
  return { kind: 'failed', reason: `${why}: ${(result.stderr || result.stdout).trim()}` };
}
