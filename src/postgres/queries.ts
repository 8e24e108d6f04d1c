// Status queries against the local (or a remote) PostgreSQL, returning plain data for the HA
// loop and the REST API. LSNs are byte positions.
import type pg from 'pg';
import { parseLsn, parseLsnOrNull } from './lsn.ts';

/** Any connected node-postgres client (Client or a pooled client); the caller owns it. */
export type Db = pg.ClientBase;

export interface WalReceiver {
  /** pg_stat_wal_receiver.status, e.g. 'streaming', 'catchup', 'waiting'. */
  status: string;
  upstreamHost: string | null;
  upstreamPort: number | null;
  slotName: string | null;
  receivedTimeline: number;
  flushedLsn: number | null;
}

export type PgStatus =
  | { role: 'primary'; timeline: number; walLsn: number }
  | {
      role: 'replica';
      timeline: number;
      /** WAL received and flushed to disk by the receiver (pg_last_wal_receive_lsn); null before any. */
      receivedLsn: number | null;
      replayedLsn: number | null;
      replayPaused: boolean;
      /** null when not connected to an upstream at this moment. */
      receiver: WalReceiver | null;
    };

export interface ReplicaConnection {
  pid: number;
  applicationName: string;
  clientAddr: string | null;
  /** e.g. 'startup', 'catchup', 'streaming'. */
  state: string;
  syncState: string;
  sentLsn: number | null;
  writeLsn: number | null;
  flushLsn: number | null;
  replayLsn: number | null;
}

/** SQL for the timeline in the name of the WAL file that holds `lsn` (a primary's current one is exact). */
const walTimeline = (lsn: string): string =>
  `('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(${lsn}), 1, 8))::bit(32)::int`;

/** SQL for a primary's current timeline. */
export const PRIMARY_TIMELINE = walTimeline('pg_catalog.pg_current_wal_lsn()');

/**
 * One row of everything PgStatus needs, in one round trip whatever the role: `p` has a row only
 * on a primary (its filter runs before the functions that fail during recovery), `r` only while a
 * WAL receiver runs. A promotion during the query leaves a replica's row, with `paused` null.
 */
const STATUS_COLUMNS = `p.lsn::text AS wal_lsn, p.tli AS primary_tli,
       pg_catalog.pg_last_wal_receive_lsn()::text AS received,
       pg_catalog.pg_last_wal_replay_lsn()::text AS replayed,
       CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_is_wal_replay_paused() END AS paused,
       (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()) AS checkpoint_tli,
       (SELECT min_recovery_end_timeline FROM pg_catalog.pg_control_recovery()) AS min_recovery_tli,
       r.status, r.sender_host, r.sender_port, r.slot_name, r.received_tli, r.flushed_lsn::text AS flushed`;
const STATUS_FROM = `FROM (SELECT 1) AS one
  LEFT JOIN (SELECT l.lsn, ${walTimeline('l.lsn')} AS tli
               FROM (SELECT pg_catalog.pg_current_wal_lsn() AS lsn WHERE NOT pg_catalog.pg_is_in_recovery()) AS l) AS p
    ON true
  LEFT JOIN pg_catalog.pg_stat_get_wal_receiver() AS r ON r.pid IS NOT NULL`;

interface StatusRow {
  wal_lsn: string | null;
  primary_tli: number | null;
  received: string | null;
  replayed: string | null;
  paused: boolean | null;
  checkpoint_tli: number;
  min_recovery_tli: number;
  status: string | null;
  sender_host: string | null;
  sender_port: number | null;
  slot_name: string | null;
  received_tli: number | null;
  flushed: string | null;
}

function statusFromRow(row: StatusRow): PgStatus {
  if (row.wal_lsn !== null && row.primary_tli !== null) {
    return { role: 'primary', timeline: row.primary_tli, walLsn: parseLsn(row.wal_lsn) };
  }
  const receiver: WalReceiver | null =
    row.status === null
      ? null
      : {
          status: row.status,
          upstreamHost: row.sender_host,
          upstreamPort: row.sender_port,
          slotName: row.slot_name,
          receivedTimeline: row.received_tli ?? row.checkpoint_tli,
          flushedLsn: parseLsnOrNull(row.flushed),
        };
  return {
    role: 'replica',
    // The checkpoint's timeline lags until the next restartpoint; after pg_rewind the minimum
    // recovery point already names the leader's timeline, and the receiver knows the newest.
    timeline: Math.max(row.received_tli ?? 0, row.checkpoint_tli, row.min_recovery_tli),
    receivedLsn: parseLsnOrNull(row.received),
    replayedLsn: parseLsnOrNull(row.replayed),
    replayPaused: row.paused === true,
    receiver,
  };
}

export async function readStatus(db: Db): Promise<PgStatus> {
  const { rows } = await db.query<StatusRow>(`SELECT ${STATUS_COLUMNS} ${STATUS_FROM}`);
  return statusFromRow(rows[0]!);
}

/** The walsenders as one JSON array (null when there are none), so they come in the same round trip. */
const REPLICAS_JSON = `(SELECT pg_catalog.json_agg(s ORDER BY s.application_name)
          FROM (SELECT pid, application_name, host(client_addr) AS client_addr, state, sync_state,
                       sent_lsn::text AS sent, write_lsn::text AS write, flush_lsn::text AS flush,
                       replay_lsn::text AS replay
                  FROM pg_catalog.pg_stat_replication) AS s) AS replicas`;

interface ReplicaRow {
  pid: number;
  application_name: string;
  client_addr: string | null;
  state: string;
  sync_state: string;
  sent: string | null;
  write: string | null;
  flush: string | null;
  replay: string | null;
}

function replicasFromJson(rows: ReplicaRow[] | null): ReplicaConnection[] {
  return (rows ?? []).map((r) => ({
    pid: r.pid,
    applicationName: r.application_name,
    clientAddr: r.client_addr,
    state: r.state,
    syncState: r.sync_state,
    sentLsn: parseLsnOrNull(r.sent),
    writeLsn: parseLsnOrNull(r.write),
    flushLsn: parseLsnOrNull(r.flush),
    replayLsn: parseLsnOrNull(r.replay),
  }));
}

/** What the REST API reports of a running server: its status, start, version and walsenders. */
export interface StatusReport {
  status: PgStatus;
  /** pg_postmaster_start_time() as Patroni prints it. */
  postmasterStart: string;
  serverVersion: number;
  replicas: ReplicaConnection[];
}

/** The StatusReport in one round trip: a REST request costs one query, as with Patroni. */
export async function readStatusReport(db: Db): Promise<StatusReport> {
  const { rows } = await db.query<StatusRow & { start: string; version: string; replicas: ReplicaRow[] | null }>(
    `SELECT ${STATUS_COLUMNS},
            pg_catalog.to_char(pg_catalog.pg_postmaster_start_time(), 'YYYY-MM-DD HH24:MI:SS.US TZH:TZM') AS start,
            pg_catalog.current_setting('server_version_num') AS version,
            ${REPLICAS_JSON}
       ${STATUS_FROM}`,
  );
  const row = rows[0]!;
  return {
    status: statusFromRow(row),
    postmasterStart: row.start,
    serverVersion: Number(row.version),
    replicas: replicasFromJson(row.replicas),
  };
}

/** The cluster's system identifier as a decimal string (it does not fit a JS number). */
export async function systemIdentifier(db: Db): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    'SELECT system_identifier::text AS id FROM pg_catalog.pg_control_system()',
  );
  return rows[0]!.id;
}

/** A primary's synchronous replication as it runs: its setting, its flush position, its standbys. */
export interface ReplicationState {
  /** `synchronous_standby_names` in force. */
  synchronousStandbyNames: string;
  /** pg_current_wal_flush_lsn(). */
  flushLsn: number;
  standbys: ReplicaConnection[];
}

export async function replicationState(db: Db): Promise<ReplicationState> {
  const { rows } = await db.query<{ ssn: string; flush: string; replicas: ReplicaRow[] | null }>(
    "SELECT pg_catalog.current_setting('synchronous_standby_names') AS ssn, " +
      `pg_catalog.pg_current_wal_flush_lsn()::text AS flush, ${REPLICAS_JSON}`,
  );
  const row = rows[0]!;
  return {
    synchronousStandbyNames: row.ssn,
    flushLsn: parseLsn(row.flush),
    standbys: replicasFromJson(row.replicas),
  };
}
