// pg_controldata: what a data directory says about itself while PostgreSQL is stopped
// (system identifier, cluster state, timeline).
import { PostgresError } from '../errors.ts';
import type { PgBinaries } from './binaries.ts';
import { parseLsn } from './lsn.ts';
import { runProgram } from './run.ts';

export interface ControlData {
  systemIdentifier: string;
  /** e.g. 'shut down', 'shut down in recovery', 'in production', 'in archive recovery'. */
  state: string;
  /** The newest timeline the data directory is known to be on (checkpoint or minimum recovery point). */
  timeline: number;
  checkpointLsn: number;
  /** True when the last stop was clean, which pg_rewind requires. */
  cleanShutdown: boolean;
  walLogHints: boolean;
  dataChecksums: boolean;
  raw: Record<string, string>;
}

/** Splits pg_controldata output into its 'Name: value' pairs. */
export function parseControlDataText(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    result[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return result;
}

export function controlDataFrom(raw: Record<string, string>): ControlData {
  const field = (name: string): string => {
    const value = raw[name];
    if (value === undefined) throw new PostgresError('pg_controldata', `output lacks '${name}'`);
    return value;
  };
  const checkpointTimeline = Number(field("Latest checkpoint's TimeLineID"));
  // A replica stopped mid-recovery may have replayed into a newer timeline than its last checkpoint.
  const minRecoveryTimeline = Number(raw["Min recovery ending loc's timeline"] ?? 0);
  const state = field('Database cluster state');
  return {
    systemIdentifier: field('Database system identifier'),
    state,
    timeline: Math.max(checkpointTimeline, minRecoveryTimeline),
    checkpointLsn: parseLsn(field('Latest checkpoint location')),
    cleanShutdown: state === 'shut down' || state === 'shut down in recovery',
    walLogHints: raw['wal_log_hints setting'] === 'on',
    dataChecksums: (raw['Data page checksum version'] ?? '0') !== '0',
    raw,
  };
}

export async function readControlData(bin: PgBinaries, dataDir: string): Promise<ControlData> {
  const result = await runProgram(bin.path('pg_controldata'), ['-D', dataDir], {
    env: { LANG: 'C', LC_ALL: 'C' },
    timeoutMs: 30_000,
  });
  if (result.code !== 0) {
    throw new PostgresError('pg_controldata', `exit ${result.code ?? result.signal}: ${result.stderr.trim()}`);
  }
  return controlDataFrom(parseControlDataText(result.stdout));
}
