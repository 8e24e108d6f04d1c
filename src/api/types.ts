// What the REST API needs from the running agent: a narrow, read-mostly view of its state.
// The agent implements it; the API never touches etcd or PostgreSQL directly for status.
import type { MetadataStatus } from '../citus/metadataView.ts';
import type { PauseStats } from '../citus/pause.ts';
import type { PauseEvent } from '../citus/pauseRules.ts';
import type { Tags } from '../config/types.ts';
import type { CloneStatus } from '../postgres/cloneWatch.ts';
import type { GroupView } from '../dcs/types.ts';

/** PostgreSQL's part of `GET /patroni`, with Patroni's field names. */
export interface PostgresStatusReport {
  /** `running`, `starting`, `stopped`, `crashed`, `creating replica`, `unknown`, ... */
  state: string;
  /** `primary` or `replica` while running; the last known role otherwise. */
  role: string;
  postmaster_start_time?: string;
  server_version?: number;
  /** Primary: `{location}`; replica: received/replayed positions (bytes). */
  xlog?:
    | { location: number }
    | { received_location: number; replayed_location: number; replayed_timestamp: string | null; paused: boolean };
  timeline?: number;
  replication?: Array<{
    usename: string;
    application_name: string;
    client_addr: string | null;
    state: string;
    sync_state: string;
    sync_priority: number;
  }>;
  /** `streaming` when the WAL receiver streams from the leader. */
  replication_state?: string;
  /**
   * Shardherd's own: false while a replica has received nothing by streaming since PostgreSQL
   * started (it then takes part in a leader race only holding the last leader position), absent
   * otherwise.
   */
  streamed_since_start?: false;
  /** Shardherd's own: a clone in flight (pg_basebackup's progress), while the state is `creating replica`. */
  clone_progress?: CloneStatus;
}

export interface AgentStatusSource {
  readonly scope: string;
  readonly name: string;
  readonly version: string;
  /** Queries PostgreSQL now; never throws (a failed query yields `state: 'unknown'`). */
  postgresStatus(): Promise<PostgresStatusReport>;
  /** True while this member held the leader lock as of its last completed cycle. */
  isLeader(): boolean;
  isPaused(): boolean;
  tags(): Tags;
  /** The group's view from the last successful etcd read; null when etcd was never reached. */
  lastView(): GroupView | null;
  /** A fresh read of the group's keys (for `/cluster`); throws when etcd is unreachable. */
  freshView(): Promise<GroupView>;
  /** Unix seconds of the last successful etcd read. */
  dcsLastSeen(): number;
  /** Milliseconds since the epoch when the HA loop last finished a cycle. */
  lastCycleAt(): number;
  ttl(): number;
  systemIdentifier(): string | null;
  pendingRestart(): boolean;
  /** Whether failsafe mode currently keeps this primary up without etcd. */
  failsafeActive(): boolean;
}

/** The answer of a control endpoint: HTTP status and one line of text (Patroni answers plain text). */
export interface ControlAnswer {
  status: number;
  message: string;
}

/**
 * What the switchover/failover/citus endpoints ask of the agent. The agent validates against
 * etcd, writes the `failover` key and waits for the outcome; the API only maps HTTP onto it.
 */
export interface SwitchoverControl {
  /** `POST /switchover` or `POST /failover` with its unchecked JSON body. */
  manualFailover(action: 'switchover' | 'failover', body: unknown): Promise<ControlAnswer>;
  /** `DELETE /switchover`: drop a scheduled switchover. */
  cancelScheduledSwitchover(): Promise<ControlAnswer>;
  /** `POST /failsafe` from a primary that lost etcd, with its member data (`name`, `api_url`, ...). */
  failsafe(body: unknown): ControlAnswer;
  /** `POST /citus`, `cooldown` already in milliseconds; 503 where no Citus manager runs. */
  citusEvent(event: PauseEvent): Promise<ControlAnswer>;
  /** `GET /citus`: the pause protocol's counters where the Citus manager runs, else null. */
  citusPauseStats(): PauseStats | null;
  /** `GET /citus`: the manager's last view of pg_dist_node and pg_dist_poolinfo where it runs, else null. */
  citusMetadata(): MetadataStatus | null;
  /** `GET /citus`, first: the shard placements and the rebalancer read afresh where the manager runs. */
  refreshCitus?(): Promise<void>;
}
