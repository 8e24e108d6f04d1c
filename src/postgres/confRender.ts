// Pure rendering of the configuration Shardherd manages: postgresql.conf (which includes the
// user's own settings from postgresql.base.conf), pg_hba.conf and the standby settings.
import type { HostPort, Scalar } from '../config/types.ts';
import { formatConnInfo } from './connInfo.ts';

/** First line of every file Shardherd writes, so a later run can tell its own files from the user's. */
export const MANAGED_MARKER = '# Managed by Shardherd: edits are overwritten.';
/** The user's original postgresql.conf, renamed once and included by the managed file. */
export const BASE_CONF = 'postgresql.base.conf';

/** How a standby follows its upstream; absent for a primary. */
export interface StandbySettings {
  /** null: standby with nothing to follow yet (no leader known). */
  upstream: HostPort | null;
  /** The replication role, e.g. `replicator`. */
  user: string;
  /** Sent as application_name so the upstream's pg_stat_replication names this member. */
  memberName: string;
  /** pgpass file holding the replication password. */
  passfile: string;
  /** Physical slot on the upstream, or null when slots are not used. */
  slotName: string | null;
  sslmode?: string;
}

export interface ManagedSettings {
  listen: { hosts: string[]; port: number };
  /** User parameters (dynamic `postgresql.parameters` merged with local ones by the caller). */
  parameters: Record<string, Scalar>;
  /** pg_rewind needs hint bits WAL-logged unless the cluster has data checksums. */
  useRewind: boolean;
  standby: StandbySettings | null;
}

const WAL_LEVEL_RANK: Record<string, number> = { minimal: 0, replica: 1, archive: 1, hot_standby: 1, logical: 2 };

/** Settings that physical replication needs; a user value is kept when it is at least as strong. */
function replicationFloor(parameters: Record<string, Scalar>): Record<string, Scalar> {
  const walLevel = String(parameters.wal_level ?? 'replica');
  const atLeast = (name: string, minimum: number): number => {
    const given = Number(parameters[name]);
    return Number.isFinite(given) && given >= minimum ? given : minimum;
  };
  return {
    wal_level: (WAL_LEVEL_RANK[walLevel] ?? 0) >= 1 ? walLevel : 'replica',
    max_wal_senders: atLeast('max_wal_senders', 10),
    max_replication_slots: atLeast('max_replication_slots', 10),
    hot_standby: 'on',
  };
}

/** The full parameter set written to postgresql.conf. */
export function managedParameters(settings: ManagedSettings): Record<string, Scalar> {
  const result: Record<string, Scalar> = {
    ...settings.parameters,
    ...replicationFloor(settings.parameters),
    listen_addresses: settings.listen.hosts.join(','),
    port: settings.listen.port,
  };
  if (settings.useRewind) result.wal_log_hints = 'on';
  // Recovery settings live in postgresql.conf since PostgreSQL 12; a primary gets none so that
  // a value in the user's base file cannot make it follow anyone.
  for (const name of ['primary_conninfo', 'primary_slot_name', 'recovery_target_timeline']) delete result[name];
  const standby = settings.standby;
  if (standby !== null) {
    result.recovery_target_timeline = 'latest';
    // A standby whose upstream went away retries after this long; PostgreSQL's 5 s default is
    // most of the time a group needs to be whole again after a switchover.
    result.wal_retrieve_retry_interval = settings.parameters.wal_retrieve_retry_interval ?? '1s';
    if (standby.upstream !== null) {
      result.primary_conninfo = formatConnInfo({
        host: standby.upstream.host,
        port: standby.upstream.port,
        user: standby.user,
        passfile: standby.passfile,
        application_name: standby.memberName,
        sslmode: standby.sslmode ?? 'prefer',
      });
      if (standby.slotName !== null) result.primary_slot_name = standby.slotName;
    }
  }
  return result;
}

/** Quotes a value for postgresql.conf: single quotes, with quote and backslash escaped. */
export function quoteConfValue(value: Scalar): string {
  const text = typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** postgresql.conf: include the user's base file first, so every managed value wins over it. */
export function renderPostgresqlConf(parameters: Record<string, Scalar>): string {
  const lines = [MANAGED_MARKER, `include '${BASE_CONF}'`, ''];
  for (const name of Object.keys(parameters).sort()) {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) throw new Error(`invalid parameter name '${name}'`);
    lines.push(`${name} = ${quoteConfValue(parameters[name]!)}`);
  }
  return lines.join('\n') + '\n';
}

/** pg_hba.conf from the configured `pg_hba` lines, in order (the first match wins in PostgreSQL). */
export function renderHba(lines: string[]): string {
  return [MANAGED_MARKER, ...lines.map((l) => l.trim()).filter((l) => l !== '')].join('\n') + '\n';
}

/** Whether a file's content was written by Shardherd. */
export function isManaged(content: string): boolean {
  return content.startsWith(MANAGED_MARKER);
}
