// Plain-data contract between the HA loop's observer/executor and the pure `decide()`:
// what one cycle sees (DecideInput), what it may do (Action) and the verdict (Decision).
//
// ## How a cycle runs (for the executor)
// 1. Observe: read the group from etcd (GroupView), inspect local PostgreSQL (LocalState), fill in
//    the lock as the cycle may count on it (facts.ts `ownLock`), DCS health and what the previous
//    cycle did. `peers` is null.
// 2. `decide(input)`. If the only action is `askPeers`, GET `/patroni` of the named members in
//    parallel with a short timeout (about 2 s), put every answer (or `unreachable`) in
//    `input.peers`, and call `decide` again with otherwise the same input. `decide` never asks
//    twice: with `peers` filled in it always returns a final decision. This keeps REST traffic to
//    the cycles that need it (a leader race, a switchover, a primary start timeout) while the rule
//    of who is asked stays inside `decide`.
// 3. Execute `actions` strictly in list order, one at a time. If an action fails, skip every later
//    action of the list (they assume the earlier ones happened: never promote after a failed
//    acquireLock, never release the lock after a failed stop), record the failure in `lastCycle`,
//    and let the next cycle come after `loop_wait` as usual, so a step that keeps failing is not
//    retried in a tight loop.
// 4. Log `reason` with the actions (one line, fields `action`, `reason`, `role`).
//
// When the next cycle runs (at once after a cycle that stopped or started PostgreSQL, took or
// released the lock, or started a long task) is schedule.ts's rule, not the executor's.
import type { DynamicConfig, Tags } from '../config/types.ts';
import type { GroupView, HistoryEntry, SyncState } from '../dcs/types.ts';

// ---------------------------------------------------------------------------------------------
// Local PostgreSQL

/** Facts read from a data directory that is not running (pg_controldata). */
export interface DataDirFacts {
  /** `Database system identifier`, decimal string. */
  systemId: string;
  /** `Latest checkpoint's TimeLineID`. */
  timeline: number;
  /**
   * Where local WAL ends as far as control data can tell: the latest checkpoint location after a
   * clean shutdown, a lower bound otherwise.
   */
  lsn: number;
  /**
   * The role the instance last ran as: `primary` when pg_controldata's cluster state is
   * `shut down`/`in production`, `replica` for `shut down in recovery`/`in archive recovery`.
   * Control data is preferred to the presence of standby.signal because a demote writes
   * standby.signal before the directory has ever run as a replica.
   */
  lastRole: 'primary' | 'replica';
  /** Cluster state was `shut down` or `shut down in recovery`. */
  cleanShutdown: boolean;
}

/** Long tasks the executor runs in the background while cycles go on. */
export type LongTask = 'bootstrap' | 'clone' | 'rewind' | 'reinitialize' | 'restart';

/** The local PostgreSQL as the observer sees it at the start of the cycle. */
export type LocalState =
  /** Data directory missing or empty. */
  | { kind: 'noData' }
  /**
   * A long task started by an earlier decision is still running. `role`: what PostgreSQL ran as
   * when a restart began (it is published as such while it restarts).
   */
  | { kind: 'busy'; task: LongTask; since: number; role?: 'primary' | 'replica' }
  /** Data directory present, no postmaster, and not after a crash. */
  | { kind: 'stopped'; data: DataDirFacts }
  /** Postmaster started but not yet accepting connections. `since`: when the start began. */
  | { kind: 'starting'; as: 'primary' | 'replica'; since: number; data: DataDirFacts }
  | {
      kind: 'runningPrimary';
      systemId: string;
      timeline: number;
      /** pg_current_wal_lsn(). */
      walLsn: number;
      /** Its synchronous replication; absent when it could not be read this cycle. */
      replication?: PrimaryReplication;
    }
  | {
      kind: 'runningReplica';
      systemId: string;
      timeline: number;
      /** Member whose address primary_conninfo currently points at; null when none. */
      upstream: string | null;
      /** A WAL receiver is streaming right now. */
      streaming: boolean;
      /**
       * pg_last_wal_receive_lsn(): null while nothing has been streamed since PostgreSQL started.
       * A replica that has never streamed is not a failover candidate (docs/design.md, "Safety rules of the HA loop").
       */
      receivedLsn: number | null;
      /** pg_last_wal_replay_lsn(). */
      replayedLsn: number;
    }
  /**
   * The postmaster exited without being asked to. `since`: when it was last seen healthy; repeated
   * crashes without a healthy period in between keep the first time, so primary_start_timeout
   * bounds the whole episode.
   */
  | { kind: 'crashed'; since: number; data: DataDirFacts }
  /** The last start attempt failed (pg_ctl error or exit during startup). */
  | { kind: 'startFailed'; as: 'primary' | 'replica'; at: number; message: string; data: DataDirFacts };

/** A primary's synchronous replication as observed, with what only the agent remembers of it. */
export interface PrimaryReplication {
  /** synchronous_standby_names in force. */
  ssn: string;
  /** The HA loop has set it since this server became primary (else it is a fresh primary's or the user's). */
  managed: boolean;
  /** pg_current_wal_flush_lsn(). */
  flushLsn: number;
  /** pg_stat_replication: application_name (the member name), state and flush position. */
  standbys: { name: string; state: string; flushLsn: number | null }[];
  /**
   * The flush position recorded in the first cycle after the last change of synchronous_standby_names;
   * a standby that flushed past it holds every commit acknowledged before the change. Null until recorded.
   */
  syncMark: number | null;
}

// ---------------------------------------------------------------------------------------------
// Lock, DCS, peers, previous cycle

/**
 * This process's own record of the leader lock, independent of the (possibly stale) view.
 * `held`: the last acquireLock/updateLock succeeded and nothing since said the lock was lost;
 * `confirmedAt` is when that write was acknowledged. Self-fencing counts from `confirmedAt`.
 */
export type LockState = { kind: 'notHeld' } | { kind: 'held'; confirmedAt: number };

/** Whether this cycle's etcd read (or the last write) worked. When unreachable, `view` is the last good one. */
export type DcsHealth = { kind: 'ok' } | { kind: 'unreachable'; since: number; error: string };

/** One member's answer to GET /patroni, reduced to what the leader race compares. */
export type PeerAnswer =
  | { kind: 'unreachable'; error: string }
  | {
      kind: 'answered';
      /** `primary` when the answer has `xlog.location` (not in recovery). */
      role: 'primary' | 'replica';
      /** Patroni's `state`: `running`, `starting`, ... */
      state: string;
      /** Primary: xlog.location; replica: max(received_location, replayed_location). */
      walPosition: number;
      timeline: number;
      nofailover: boolean;
      failoverPriority: number;
      /** A replica that received nothing by streaming since its start (it races only at the last leader position). */
      notStreamed?: boolean;
    };

/** Answers to an `askPeers` action, keyed by member name. A member asked but missing counts as unreachable. */
export interface PeerPoll {
  answers: Record<string, PeerAnswer>;
}

/** What the previous cycle did, as far as `decide` needs to remember it. */
export interface LastCycle {
  /**
   * The first failed action of the previous cycle's list, if any. A background task (clone,
   * rewind, reinitialize, bootstrap) that ended in failure is reported here in the first cycle
   * after it ended: a failed `rewind` is what switches the next decision to re-cloning.
   */
  failed: { action: Action; message: string } | null;
}

/** This member's identity and local (static) policy. */
export interface SelfInfo {
  name: string;
  tags: Tags;
  /** `postgresql.remove_data_directory_on_rewind_failure`: re-clone when pg_rewind fails. */
  reinitializeOnRewindFailure: boolean;
}

export interface DecideInput {
  /** Milliseconds since the epoch; the only clock `decide` sees. */
  now: number;
  self: SelfInfo;
  /** This member's group. When `dcs` is unreachable, the last view read successfully. */
  view: GroupView;
  /** Effective dynamic configuration (the `config` key merged over defaults). */
  config: DynamicConfig;
  local: LocalState;
  lock: LockState;
  dcs: DcsHealth;
  /** Null in the first call of a cycle; the answers to `askPeers` in the second. */
  peers: PeerPoll | null;
  /** The agent was asked to stop: this is its last cycle. */
  shuttingDown: boolean;
  /** Null on the first cycle after the agent started. */
  lastCycle: LastCycle | null;
  /** An operator's request (REST) for this cycle to answer; see src/ha/requests.ts. */
  request?: HaRequest | null;
  /** PostgreSQL reports a setting that waits for a restart (pg_settings.pending_restart). */
  pendingRestart?: boolean;
  /**
   * Failsafe mode: the primary that last called POST /failsafe on this member, within ttl; it
   * keeps its lead while etcd is away, so this member must not take it.
   */
  failsafeLeader?: string | null;
  /** Null in the first call of a cycle; the answers to `askFailsafe` (true: accepted) in the second. */
  failsafeAnswers?: Record<string, boolean> | null;
  /** When postgresql.pre_promote last refused a promotion of this member; it sits out the race for ttl. */
  promotionRefusedAt?: number | null;
}

/** What an operator can ask the HA loop to do at its next cycle. */
export type HaRequest =
  /** Stop and start PostgreSQL in its current role; `role` and `onlyIfPending` are conditions. */
  | { kind: 'restart'; role: 'primary' | 'replica' | null; onlyIfPending: boolean }
  /** Wipe the data directory and clone again (never on the leader). */
  | { kind: 'reinitialize'; force: boolean };

/** decide()'s answer to `request`: refused with a reason, or accepted (its actions are in the list). */
export type RequestAnswer = { kind: 'accepted'; message: string } | { kind: 'refused'; reason: string };

// ---------------------------------------------------------------------------------------------
// Actions (what each one means to the executor)

export type DemoteMode =
  /**
   * Planned step-down (switchover, agent shutdown): CHECKPOINT (so the shutdown checkpoint is
   * short), notify the Citus coordinator (`before_demote`), stop `fast`.
   */
  | 'graceful'
  /** Lost the lock or must give it up now: stop `immediate`, no checkpoint, no notification. */
  | 'immediate'
  /** DCS unreachable (self-fencing): stop `fast`, nothing else; nobody can be told. */
  | 'offline';

export type Action =
  /** Must be the only action. GET /patroni of these members, then call decide again with `peers`. */
  | { kind: 'askPeers'; members: string[] }
  /**
   * Must be the only action. POST /failsafe to these members (`{name: api_url}` from the
   * `failsafe` key) with this primary's member data, then call decide again with `failsafeAnswers`.
   */
  | { kind: 'askFailsafe'; members: Record<string, string> }
  /** Every member accepted this primary's failsafe call: count the lock as confirmed now (for the fence too). */
  | { kind: 'confirmLockByFailsafe' }
  /** Write the `failsafe` key: every member's name and API address, as the leader knows them. */
  | { kind: 'writeFailsafe'; value: Record<string, string> }
  /** Create `initialize` with this system id if it does not exist (create-revision-0 compare). Fails if it exists. */
  | { kind: 'claimInitialize'; systemId: string }
  /**
   * Win the `initialize` race (create it with an empty value, create-revision-0 compare; failing
   * that the action fails), then in the background: initdb, start as primary, create roles, write
   * `initialize` = system id and `config` from bootstrap.dcs, take the leader key. On failure
   * delete `initialize` and move the data directory aside so the next cycle starts clean.
   */
  | { kind: 'bootstrap' }
  /**
   * In the background: pg_basebackup from this member, write replica configuration for the
   * leader; leave PostgreSQL stopped.
   */
  | { kind: 'clone'; from: string }
  /** Take the leader key if absent (create-revision-0 compare), attached to this agent's lease. Fails if taken. */
  | { kind: 'acquireLock' }
  /**
   * Refresh the lease and keep the leader key ours (re-put with our lease when the lease
   * changed, compare value == our name). Also write `status.optime` when `optime` is given.
   * A compare failure is a failed action (the lock is lost); an etcd error makes DCS unreachable.
   */
  | { kind: 'updateLock'; optime: number | null }
  /**
   * Delete the leader key if its value is our name; write `status.optime` with the shutdown
   * checkpoint LSN when known. With `handover` (a switchover), first wait, at most `timeoutMs`
   * (retry_timeout), until one of `members` reports having received WAL past that checkpoint, so
   * the successor takes over with everything the old primary wrote.
   */
  | { kind: 'releaseLock'; handover?: Handover }
  /** pg_ctl promote and wait until out of recovery; call the Citus coordinator's before/after_promote. */
  | { kind: 'promote' }
  /**
   * Stop a primary (see DemoteMode) and write standby.signal so no later start can come up
   * writable. Leaves it stopped.
   */
  | { kind: 'demote'; mode: DemoteMode }
  /** Stop a PostgreSQL that is not a lock-holding primary. */
  | { kind: 'stopPostgres'; mode: 'fast' | 'immediate' }
  /**
   * Point replication at `leader` (primary_conninfo, primary_slot_name from the leader's member
   * data), or at nothing when null. Running: reload, or restart when PostgreSQL needs it;
   * stopped: only write the configuration for the next start.
   */
  | { kind: 'follow'; leader: string | null }
  /**
   * Start PostgreSQL; `replica` writes standby.signal first, `primary` removes it (only ever when
   * holding the lock).
   */
  | { kind: 'startPostgres'; as: 'primary' | 'replica' }
  /** Start a crashed PostgreSQL again with its configuration untouched (crash recovery; same role, same timeline). */
  | { kind: 'restartInPlace'; as: 'primary' | 'replica' }
  /**
   * In the background: stop PostgreSQL if running (fast), run crash recovery in single-user mode
   * when the shutdown was not clean, pg_rewind from this member, write replica configuration for
   * it; leave PostgreSQL stopped.
   */
  | { kind: 'rewind'; from: string }
  /**
   * In the background: stop PostgreSQL (fast; a primary first runs the before-demote hook after a
   * CHECKPOINT) and start it again in the same role, `role`, with its configuration untouched.
   */
  | { kind: 'restart'; role: 'primary' | 'replica' }
  /** In the background: stop PostgreSQL if running, remove the data directory, clone from this member. */
  | { kind: 'reinitialize'; from: string }
  /** Add this `[timeline, lsn, reason, ts, new_leader]` to `history`, replacing an entry for the same timeline. */
  | { kind: 'writeHistory'; entry: HistoryEntry }
  /** Write `{}` to `failover`. */
  | { kind: 'clearFailover' }
  /** Write the `sync` key (Patroni's format), or delete it when null. */
  | { kind: 'writeSync'; value: SyncState | null }
  /**
   * Set synchronous_standby_names on this primary (null: what a fresh primary starts with), reload,
   * and return once it is in force; the next cycle records the flush position after it (syncMark).
   */
  | { kind: 'setSyncStandbys'; value: string | null }
  /** Write `members/<name>` from the local state as it is after the earlier actions. */
  | { kind: 'touchMember' }
  /** Nothing to change; `reason` says what is awaited. */
  | { kind: 'wait'; reason: string };

export type ActionKind = Action['kind'];

/** A switchover's wait for a successor to receive the old primary's shutdown checkpoint. */
export interface Handover {
  members: string[];
  timeoutMs: number;
}

/** The role this member is meant to have once the actions ran, in Patroni's words. */
export type DecidedRole = 'primary' | 'replica' | 'demoted' | 'uninitialized';

export interface Decision {
  actions: Action[];
  /** One readable log line on why. */
  reason: string;
  role?: DecidedRole;
  /** Present exactly when the input carried a `request` (and this is not a peer question). */
  answer?: RequestAnswer;
  /** Something is under way that the next cycle should look at within this many milliseconds. */
  recheckMs?: number;
}
