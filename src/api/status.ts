// The member's status as `GET /patroni` serves it (Patroni's field names), and the snapshot of
// agent state each status or health request is answered from.
import { readSyncMode } from '../config/dynamic.ts';
import { publishedTags } from '../config/tags.ts';
import type { Scalar } from '../config/types.ts';
import { normalRole } from '../dcs/role.ts';
import { leaderOptime, syncStandbys } from '../dcs/summary.ts';
import type { GroupView } from '../dcs/types.ts';
import type { HealthCheck, HealthInput, QueryParams } from './health.ts';
import type { AgentStatusSource, PostgresStatusReport } from './types.ts';

/** Everything a status answer depends on, read from the agent once per request. */
export interface StatusSnapshot {
  scope: string;
  name: string;
  version: string;
  postgres: PostgresStatusReport;
  isLeader: boolean;
  paused: boolean;
  tags: Record<string, Scalar>;
  view: GroupView | null;
  dcsLastSeen: number;
  systemIdentifier: string | null;
  pendingRestart: boolean;
  failsafeActive: boolean;
}

export interface NodeStatus {
  state: string;
  postmaster_start_time?: string;
  /** `primary` for a writable primary (Patroni 4's word; Patroni 3 said `master`). */
  role: string;
  server_version?: number;
  xlog?: PostgresStatusReport['xlog'];
  timeline?: number;
  replication?: PostgresStatusReport['replication'];
  replication_state?: string;
  streamed_since_start?: false;
  clone_progress?: PostgresStatusReport['clone_progress'];
  sync_standby?: true;
  cluster_unlocked?: true;
  failsafe_mode_is_active?: true;
  dcs_last_seen: number;
  tags?: Record<string, Scalar>;
  database_system_identifier?: string;
  pending_restart?: true;
  patroni: { version: string; scope: string; name: string };
  pause?: true;
}

// Built-in flags are published only when set, so `?tag_nofailover=false` finds nothing, as
// with Patroni. `failover_priority` is always published: peers read it in the leader race.
/** The tags this member publishes; the same set as its member key. */
export const effectiveTags = publishedTags;

export async function takeSnapshot(source: AgentStatusSource): Promise<StatusSnapshot> {
  const postgres = await source.postgresStatus();
  return {
    scope: source.scope,
    name: source.name,
    version: source.version,
    postgres,
    isLeader: source.isLeader(),
    paused: source.isPaused(),
    tags: effectiveTags(source.tags()),
    view: source.lastView(),
    dcsLastSeen: source.dcsLastSeen(),
    systemIdentifier: source.systemIdentifier(),
    pendingRestart: source.pendingRestart(),
    failsafeActive: source.failsafeActive(),
  };
}

/** Listed as a synchronous standby while synchronous mode is on (and running as a replica). */
function isSyncStandby(snapshot: StatusSnapshot): boolean {
  const view = snapshot.view;
  if (view === null || readSyncMode(view.config?.value.synchronous_mode) === 'off') return false;
  return syncStandbys(view).includes(snapshot.name);
}

export function renderNodeStatus(snapshot: StatusSnapshot): NodeStatus {
  const pg = snapshot.postgres;
  const role = normalRole(pg.role);
  // Fields in Patroni's order, which keeps answers easy to compare side by side.
  return {
    state: pg.state,
    ...(pg.postmaster_start_time !== undefined && { postmaster_start_time: pg.postmaster_start_time }),
    role,
    ...(pg.server_version !== undefined && { server_version: pg.server_version }),
    ...(pg.xlog !== undefined && { xlog: pg.xlog }),
    ...(pg.timeline !== undefined && { timeline: pg.timeline }),
    ...(pg.replication !== undefined && pg.replication.length > 0 && { replication: pg.replication }),
    ...(pg.replication_state !== undefined && { replication_state: pg.replication_state }),
    ...(pg.streamed_since_start === false && { streamed_since_start: false as const }),
    ...(pg.clone_progress !== undefined && { clone_progress: pg.clone_progress }),
    ...(role === 'replica' && isSyncStandby(snapshot) && { sync_standby: true as const }),
    ...((snapshot.view === null || snapshot.view.leader === null) && { cluster_unlocked: true as const }),
    ...(snapshot.failsafeActive && { failsafe_mode_is_active: true as const }),
    dcs_last_seen: snapshot.dcsLastSeen,
    ...(Object.keys(snapshot.tags).length > 0 && { tags: snapshot.tags }),
    ...(snapshot.systemIdentifier !== null && { database_system_identifier: snapshot.systemIdentifier }),
    ...(snapshot.pendingRestart && { pending_restart: true as const }),
    patroni: { version: snapshot.version, scope: snapshot.scope, name: snapshot.name },
    ...(snapshot.paused && { pause: true as const }),
  };
}

/** The inputs of `healthStatusCode` for one request. */
export function healthInput(snapshot: StatusSnapshot, check: HealthCheck, query: QueryParams): HealthInput {
  return {
    check,
    query,
    postgres: { ...snapshot.postgres, role: normalRole(snapshot.postgres.role) },
    isLeader: snapshot.isLeader,
    paused: snapshot.paused,
    viewKnown: snapshot.view !== null,
    syncStandby: snapshot.postgres.role === 'replica' && isSyncStandby(snapshot),
    leaderOptime: leaderOptime(snapshot.view),
    tags: snapshot.tags,
  };
}
