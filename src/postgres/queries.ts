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

/** SQL for the current timeline from the name of the WAL file being written (a primary's is exact). */
export const PRIMARY_TIMELINE =
  "('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int";

export async function readStatus(db: Db): Promise<PgStatus> {
  const recovery = await db.query<{ r: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS r');
  if (!recovery.rows[0]!.r) {
    const { rows } = await db.query<{ timeline: number; lsn: string }>(
      `SELECT ${PRIMARY_TIMELINE} AS timeline, pg_catalog.pg_current_wal_lsn()::text AS lsn`,
    );
    // A promotion between the two queries shows up as a failed pg_current_wal_lsn on the next call, not here.
    return { role: 'primary', timeline: rows[0]!.timeline, walLsn: parseLsn(rows[0]!.lsn) };
  }
  const { rows } = await db.query<{
    received: string | null;
    replayed: string | null;
    paused: boolean;
    checkpoint_tli: number;
    min_recovery_tli: number;
    status: string | null;
    sender_host: string | null;
    sender_port: number | null;
    slot_name: string | null;
    received_tli: number | null;
    flushed: string | null;
  }>(
    `SELECT pg_catalog.pg_last_wal_receive_lsn()::text AS received,
            pg_catalog.pg_last_wal_replay_lsn()::text AS replayed,
            pg_catalog.pg_is_wal_replay_paused() AS paused,
            (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()) AS checkpoint_tli,
            (SELECT min_recovery_end_timeline FROM pg_catalog.pg_control_recovery()) AS min_recovery_tli,
            r.status, r.sender_host, r.sender_port, r.slot_name, r.received_tli, r.flushed_lsn::text AS flushed
       FROM (SELECT 1) AS one
       LEFT JOIN pg_catalog.pg_stat_get_wal_receiver() AS r ON r.pid IS NOT NULL`,
  );
  const row = rows[0]!;
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
    replayPaused: row.paused,
    receiver,
  };
}

export async function connectedReplicas(db: Db): Promise<ReplicaConnection[]> {
  const { rows } = await db.query<{
    pid: number;
    application_name: string;
    client_addr: string | null;
    state: string;
    sync_state: string;
    sent: string | null;
    write: string | null;
    flush: string | null;
    replay: string | null;
  }>(
    `SELECT pid, application_name, host(client_addr) AS client_addr, state, sync_state,
            sent_lsn::text AS sent, write_lsn::text AS write, flush_lsn::text AS flush, replay_lsn::text AS replay
       FROM pg_catalog.pg_stat_replication ORDER BY application_name`,
  );
  return rows.map((r) => ({
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
  const { rows } = await db.query<{ ssn: string; flush: string }>(
    "SELECT pg_catalog.current_setting('synchronous_standby_names') AS ssn, " +
      'pg_catalog.pg_current_wal_flush_lsn()::text AS flush',
  );
  const row = rows[0]!;
  return { synchronousStandbyNames: row.ssn, flushLsn: parseLsn(row.flush), standbys: await connectedReplicas(db) };
}
