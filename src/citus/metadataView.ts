// The coordinator's metadata as the Citus manager last read or wrote it, for people (`GET /citus`):
// plain data copied out of the manager's cache, so a reader can never change what plans are made from.
import type { MetadataRows } from './metadataStore.ts';
import type { ScaleStatus } from './scale.ts';
import type { NodeRole, PoolinfoRow } from './types.ts';

/** The `pg_dist_node` columns that tell where a group points and whether Citus can use it. */
export interface NodeView {
  nodeid: number;
  groupid: number;
  nodename: string;
  nodeport: number;
  noderole: NodeRole;
  hasmetadata: boolean;
  isactive: boolean;
  metadatasynced: boolean;
  shouldhaveshards: boolean;
}

export interface MetadataView {
  nodes: NodeView[];
  poolinfo: PoolinfoRow[];
  /** When the rows were read (or committed), milliseconds since the epoch. */
  readAt: number;
}

export function metadataViewOf(rows: MetadataRows, readAt: number): MetadataView {
  return {
    nodes: rows.nodes.map((n) => ({
      nodeid: n.nodeid,
      groupid: n.groupid,
      nodename: n.nodename,
      nodeport: n.nodeport,
      noderole: n.noderole,
      hasmetadata: n.hasmetadata,
      isactive: n.isactive,
      metadatasynced: n.metadatasynced,
      shouldhaveshards: n.shouldhaveshards,
    })),
    poolinfo: rows.poolinfo.map((p) => ({ nodeid: p.nodeid, poolinfo: p.poolinfo })),
    readAt,
  };
}

/** What the manager knows of the coordinator's metadata: the rows it saw last, and why adds and removes wait. */
export interface MetadataStatus {
  /** Null until the manager has read the rows once. */
  metadata: MetadataView | null;
  /** The reason adds and removes wait (from the last reconcile); null when none wait. */
  membershipWaiting: string | null;
  /** Joins and removals of worker groups (scale.ts). */
  scale: ScaleStatus;
}
