// What the agent reads from etcd, as plain data: one GroupView per Citus group (or one for a
// plain cluster), assembled from a single range read. Values keep Patroni's JSON field names.
import type { JsonObject } from '../config/types.ts';

/** Value of `members/<name>`, compact JSON, Patroni's field names. */
export interface MemberData {
  conn_url: string;
  api_url: string;
  /** `running`, `starting`, `stopped`, `crashed`, `creating replica`, ... */
  state: string;
  /** `primary`, `replica`, `demoted`, `uninitialized` (`master` from old Patroni is read as `primary`). */
  role: string;
  version: string;
  xlog_location?: number;
  timeline?: number;
  /** `streaming` once the replica has actually streamed from the leader. */
  replication_state?: string;
  tags?: Record<string, string | number | boolean>;
  pending_restart?: boolean;
  pause?: boolean;
  proxy_url?: string;
  [key: string]: unknown;
}

export interface Member {
  name: string;
  data: MemberData;
  modRevision: string;
  /** Lease id (decimal string) the key is attached to; '0' when none. */
  lease: string;
}

export interface LeaderKey {
  /** The member name, stored as a plain string. */
  name: string;
  modRevision: string;
  createRevision: string;
  lease: string;
}

export interface SyncState {
  leader: string | null;
  sync_standby: string | null;
  quorum?: number;
}

/** `failover` key: a requested switchover/failover; `{}` means none. */
export interface FailoverState {
  leader?: string;
  member?: string;
  scheduled_at?: string;
}

/** `[timeline, lsn, reason, timestamp, new_leader]` as Patroni writes it. */
export type HistoryEntry = [number, number, string, string?, string?];

export interface StatusValue {
  optime: number;
  slots?: Record<string, number>;
  retain_slots?: string[];
}

export interface Versioned<T> {
  value: T;
  modRevision: string;
}

/** Where the removal of a worker group stands (`shardherd remove-group`, docs/design.md "Scale out and in"). */
export type RemovalState = 'draining' | 'removing' | 'removed';

/** Value of a group's `citus` key: what the Citus manager did about the group joining or leaving. */
export interface CitusMark {
  /** Set once the group's join was balanced: the rebalance job started for it (null: nothing to move). */
  joined?: { job_id: number | null; at: string };
  /** Set by `remove-group`; advanced by the Citus manager. */
  removal?: { state: RemovalState; requested_at: string };
}

export interface GroupView {
  /** Citus group number; null for a cluster without `citus`. */
  group: number | null;
  /** System identifier written by the bootstrap winner. */
  initialize: string | null;
  config: Versioned<JsonObject> | null;
  leader: LeaderKey | null;
  members: Member[];
  sync: Versioned<SyncState> | null;
  failover: Versioned<FailoverState> | null;
  history: Versioned<HistoryEntry[]> | null;
  status: StatusValue | null;
  failsafe: Record<string, string> | null;
  /** The group's `citus` key; absent from views built before it existed (read as none). */
  citus?: Versioned<CitusMark> | null;
}

export interface ClusterView {
  /** etcd revision of the range read the view was built from (decimal string). */
  revision: string;
  /** Sorted by group; exactly one entry (group null) for a cluster without `citus`. */
  groups: GroupView[];
}

/** One change seen by a watch, already mapped onto the key layout. */
export interface DcsEvent {
  type: 'put' | 'delete';
  group: number | null;
  /** The key name below the group, e.g. `leader`, `members/node1`, `config`. */
  name: string;
  value: string | null;
  modRevision: string;
}
