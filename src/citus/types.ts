// Plain data of the Citus manager: the topology etcd says we should have, the rows the
// coordinator's metadata has, and the statements that turn one into the other.

/** Citus's group of the coordinator; worker groups are numbered from 1. */
export const COORDINATOR_GROUP = 0;

/** Citus's `noderole` enum. */
export type NodeRole = 'primary' | 'secondary' | 'unavailable';

/** One row of `pg_catalog.pg_dist_node`, Citus's column names. */
export interface PgDistNodeRow {
  nodeid: number;
  groupid: number;
  nodename: string;
  nodeport: number;
  noderack: string;
  hasmetadata: boolean;
  isactive: boolean;
  noderole: NodeRole;
  nodecluster: string;
  metadatasynced: boolean;
  shouldhaveshards: boolean;
}

/** One row of `pg_catalog.pg_dist_poolinfo`: how to reach a node through its pooler. */
export interface PoolinfoRow {
  nodeid: number;
  /** libpq keyword/value fragment, e.g. `host=10.0.0.5 port=6432`. */
  poolinfo: string;
}

/** A PostgreSQL instance that should appear in `pg_dist_node`. */
export interface DesiredNode {
  /** Member name in etcd; for messages only, rows are matched on host and port. */
  member: string;
  host: string;
  port: number;
  /** The `pg_dist_poolinfo` value the node should have; null means no row. */
  poolinfo: string | null;
}

/**
 * What a group's primary row should point at. `keep` is the answer while the leader is missing,
 * not yet running as primary or unreadable: the row stays as it is, because removing a worker's
 * primary row would drop its shards from the cluster.
 */
export type DesiredPrimary = { kind: 'node'; node: DesiredNode } | { kind: 'keep'; reason: string };

export interface DesiredGroup {
  group: number;
  primary: DesiredPrimary;
  /** Sorted by member name. */
  secondaries: DesiredNode[];
}

/** A member that could not be taken into account, with the reason (for the manager's log). */
export interface IgnoredMember {
  group: number;
  member: string;
  reason: string;
}

export interface DesiredTopology {
  /** Sorted by group number. */
  groups: DesiredGroup[];
  ignored: IgnoredMember[];
}

/** One SQL statement of a plan; `params` are bound positionally ($1, $2, ...). */
export interface Statement {
  sql: string;
  params: unknown[];
  /** Why the statement is needed, in words fit for a log line. */
  why: string;
}
