// Patroni's part of `GET /metrics`: the names, help texts, types and values Patroni 4 serves (and
// Patroni 3's `patroni_master`), so dashboards made for Patroni read a Shardherd member unchanged.
// Values come from the same snapshot as `GET /patroni`, with Patroni's rules (0 where a figure
// does not apply).
import { readSyncMode } from '../config/dynamic.ts';
import { normalRole } from '../dcs/role.ts';
import { syncStandbys } from '../dcs/summary.ts';
import type { StatusSnapshot } from './status.ts';

export interface PatroniSample {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  value: number;
}

/** Patroni's PostgresqlState indexes (patroni/postgresql/misc.py), which it promises never to change. */
const STATE_INDEX: Record<string, number> = {
  'initializing new cluster': 0,
  'initdb failed': 1,
  'running custom bootstrap script': 2,
  'custom bootstrap failed': 3,
  'creating replica': 4,
  running: 5,
  starting: 6,
  'starting after custom bootstrap': 7,
  'start failed': 8,
  restarting: 9,
  'restart failed': 10,
  stopping: 11,
  stopped: 12,
  'stop failed': 13,
  crashed: 14,
};

/** `patroni_version`: the semver with each part padded to two digits, read as a number (0.1.0 -> 100). */
export function paddedVersion(version: string): number {
  const parts = version.split(/[.+-]/).slice(0, 3);
  return Number(parts.map((p) => p.replace(/\D/g, '').padStart(2, '0')).join(''));
}

/** Epoch seconds of `postmaster_start_time` as GET /patroni shows it (`2026-01-02 03:04:05.678 +00:00`), or 0. */
export function epochSeconds(text: string | undefined): number {
  if (text === undefined) return 0;
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? ?([+-]\d\d(?::?\d\d)?|Z)?$/.exec(text);
  if (m === null) return 0;
  let zone = m[4] ?? 'Z';
  if (/^[+-]\d\d$/.test(zone)) zone += ':00';
  const whole = Date.parse(`${m[1]}T${m[2]}${zone}`);
  return Number.isNaN(whole) ? 0 : whole / 1000 + Number(m[3] ?? 0);
}

/** Whether this replica is named in the group's `sync` key, split as Patroni 4 does by synchronous mode. */
function syncRoles(snapshot: StatusSnapshot): { sync: boolean; quorum: boolean } {
  const view = snapshot.view;
  const role = normalRole(snapshot.postgres.role);
  if (view === null || role !== 'replica') return { sync: false, quorum: false };
  const mode = readSyncMode(view.config?.value.synchronous_mode);
  if (mode === 'off' || !syncStandbys(view).includes(snapshot.name)) return { sync: false, quorum: false };
  return mode === 'quorum' ? { sync: false, quorum: true } : { sync: true, quorum: false };
}

/** Patroni 4's metrics in its order, from one status snapshot. */
export function patroniSamples(snapshot: StatusSnapshot): PatroniSample[] {
  const pg = snapshot.postgres;
  const role = normalRole(pg.role);
  const xlog: Record<string, unknown> = pg.xlog ?? {};
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const flag = (b: boolean): number => (b ? 1 : 0);
  const { sync, quorum } = syncRoles(snapshot);
  const out: PatroniSample[] = [];
  const add = (name: string, type: PatroniSample['type'], help: string, value: number): void => {
    out.push({ name: `patroni_${name}`, help, type, value });
  };
  add('version', 'gauge', 'Patroni semver without periods.', paddedVersion(snapshot.version));
  add('postgres_running', 'gauge', 'Value is 1 if Postgres is running, 0 otherwise.', flag(pg.state === 'running'));
  add(
    'postmaster_start_time',
    'gauge',
    'Epoch seconds since Postgres started.',
    epochSeconds(pg.postmaster_start_time),
  );
  // Patroni 3's name of the same figure, which its dashboards read; Patroni 4 dropped it.
  add('master', 'gauge', 'Value is 1 if this node is the leader, 0 otherwise.', flag(role === 'primary'));
  add('primary', 'gauge', 'Value is 1 if this node is the leader, 0 otherwise.', flag(role === 'primary'));
  add(
    'xlog_location',
    'counter',
    'Current location of the Postgres transaction log, 0 if this node is not the leader.',
    num(xlog.location),
  );
  add(
    'standby_leader',
    'gauge',
    'Value is 1 if this node is the standby_leader, 0 otherwise.',
    flag(role === 'standby_leader'),
  );
  add('replica', 'gauge', 'Value is 1 if this node is a replica, 0 otherwise.', flag(role === 'replica'));
  add('sync_standby', 'gauge', 'Value is 1 if this node is a sync standby, 0 otherwise.', flag(sync));
  add('quorum_standby', 'gauge', 'Value is 1 if this node is a quorum standby, 0 otherwise.', flag(quorum));
  add(
    'xlog_received_location',
    'counter',
    'Current location of the received Postgres transaction log, 0 if this node is not a replica.',
    num(xlog.received_location),
  );
  add(
    'xlog_replayed_location',
    'counter',
    'Current location of the replayed Postgres transaction log, 0 if this node is not a replica.',
    num(xlog.replayed_location),
  );
  const replayedAt = typeof xlog.replayed_timestamp === 'string' ? Date.parse(xlog.replayed_timestamp) / 1000 : 0;
  add(
    'xlog_replayed_timestamp',
    'gauge',
    'Current timestamp of the replayed Postgres transaction log, 0 if null.',
    Number.isNaN(replayedAt) ? 0 : replayedAt,
  );
  add('xlog_paused', 'gauge', 'Value is 1 if the Postgres xlog is paused, 0 otherwise.', flag(xlog.paused === true));
  if (num(pg.server_version) >= 90600) {
    const state = pg.replication_state;
    add(
      'postgres_streaming',
      'gauge',
      'Value is 1 if Postgres is streaming, 0 otherwise.',
      flag(state === 'streaming'),
    );
    add(
      'postgres_in_archive_recovery',
      'gauge',
      'Value is 1 if Postgres is replicating from archive, 0 otherwise.',
      flag(state === 'in archive recovery'),
    );
  }
  add('postgres_server_version', 'gauge', 'Version of Postgres (if running), 0 otherwise.', num(pg.server_version));
  const unlocked = snapshot.view === null || snapshot.view.leader === null;
  add('cluster_unlocked', 'gauge', 'Value is 1 if the cluster is unlocked, 0 if locked.', flag(unlocked));
  add(
    'failsafe_mode_is_active',
    'gauge',
    'Value is 1 if failsafe mode is active, 0 if inactive.',
    flag(snapshot.failsafeActive),
  );
  add('postgres_timeline', 'counter', 'Postgres timeline of this node (if running), 0 otherwise.', num(pg.timeline));
  add(
    'dcs_last_seen',
    'gauge',
    'Epoch timestamp when DCS was last contacted successfully by Patroni.',
    snapshot.dcsLastSeen,
  );
  add(
    'pending_restart',
    'gauge',
    'Value is 1 if the node needs a restart, 0 otherwise.',
    flag(snapshot.pendingRestart),
  );
  add('is_paused', 'gauge', 'Value is 1 if auto failover is disabled, 0 otherwise.', flag(snapshot.paused));
  add('postgres_state', 'gauge', 'Numeric representation of Postgres state.', STATE_INDEX[pg.state] ?? -1);
  return out;
}
