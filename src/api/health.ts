// Decides the HTTP status of a health-check path (`/primary`, `/replica?lag=16MB`, ...), the
// codes load balancers such as HAProxy route on. Pure: the caller gathers the node's state.
import type { Scalar } from '../config/types.ts';
import { isPrimaryRole } from '../dcs/role.ts';
import { parseByteSize } from './byteSize.ts';
import type { PostgresStatusReport } from './types.ts';

/** What a health path asks: "are you ...?". */
export type HealthCheck =
  'primary' | 'leader' | 'standby_leader' | 'replica' | 'read_only' | 'health' | 'sync' | 'async' | 'read_only_sync';

/** Every health path with the question it asks; `/` is `/primary`, `/master` its old name. */
export const HEALTH_PATHS: Readonly<Record<string, HealthCheck>> = {
  '/': 'primary',
  '/primary': 'primary',
  '/master': 'primary',
  '/read-write': 'primary',
  '/leader': 'leader',
  '/standby-leader': 'standby_leader',
  '/standby_leader': 'standby_leader',
  '/replica': 'replica',
  '/read-only': 'read_only',
  '/health': 'health',
  '/sync': 'sync',
  '/synchronous': 'sync',
  '/async': 'async',
  '/asynchronous': 'async',
  '/read-only-sync': 'read_only_sync',
  '/read-only-synchronous': 'read_only_sync',
};

export function healthCheckForPath(path: string): HealthCheck | null {
  return Object.hasOwn(HEALTH_PATHS, path) ? HEALTH_PATHS[path]! : null;
}

/** Query parameters as a router parses them: repeated keys become arrays. */
export type QueryParams = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface HealthInput {
  check: HealthCheck;
  query: QueryParams;
  postgres: Pick<PostgresStatusReport, 'state' | 'role' | 'xlog'>;
  /** Holds the leader lock (as of its last completed cycle). */
  isLeader: boolean;
  paused: boolean;
  /** Whether the agent has a view of the group at all (etcd was reached at least once). */
  viewKnown: boolean;
  /** Listed in the `sync` key while synchronous mode is on. */
  syncStandby: boolean;
  /** The leader's last known WAL position, 0 when unknown. */
  leaderOptime: number;
  /** The tags the member publishes (built-in flags that are false are left out). */
  tags: Readonly<Record<string, Scalar>>;
}

export type HealthStatusCode = 200 | 503;

function first(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}

/** `?lag=` as bytes; absent or unparsable means "any lag is fine". */
function maximumLag(query: QueryParams): number {
  const raw = first(query.lag);
  if (raw === undefined) return Number.POSITIVE_INFINITY;
  return parseByteSize(raw) ?? Number.POSITIVE_INFINITY;
}

function replayedLocation(xlog: PostgresStatusReport['xlog']): number {
  return xlog !== undefined && 'replayed_location' in xlog ? xlog.replayed_location : 0;
}

/**
 * Each `?tag_<key>=<value>` must equal the member's tag; a tag the member does not have fails.
 * Non-string tag values compare by their lower-case text (`true`, `1`).
 */
function tagsMatch(query: QueryParams, tags: Readonly<Record<string, Scalar>>): boolean {
  for (const [key, raw] of Object.entries(query)) {
    if (!key.startsWith('tag_')) continue;
    const wanted = first(raw);
    // A blank value (`?tag_x=`) is ignored, as Python's query parsing drops it.
    if (wanted === undefined || wanted === '') continue;
    const name = key.slice('tag_'.length);
    if (!Object.hasOwn(tags, name)) return false;
    const actual = tags[name]!;
    const text = typeof actual === 'string' ? actual : String(actual).toLowerCase();
    if (text !== wanted) return false;
  }
  return true;
}

export function healthStatusCode(input: HealthInput): HealthStatusCode {
  const { postgres, query } = input;
  const optime = input.leaderOptime;
  const lagging = optime > 0 && optime > replayedLocation(postgres.xlog) + maximumLag(query);
  const noloadbalance = Boolean(input.tags.noloadbalance);

  const replica: HealthStatusCode =
    !noloadbalance && !lagging && postgres.role === 'replica' && postgres.state === 'running' ? 200 : 503;

  let leader: HealthStatusCode;
  let primary: HealthStatusCode;
  // Standby clusters are not supported, so no member is ever a standby leader; the path
  // exists so that checks written for Patroni get a definite answer.
  const standbyLeader = 503 as HealthStatusCode;
  if (!input.viewKnown && input.paused) {
    // Without etcd in pause nobody can hold a lock we know of: trust PostgreSQL's own role.
    primary = isPrimaryRole(postgres.role) ? 200 : 503;
    leader = primary;
  } else if (input.isLeader) {
    leader = 200;
    primary = 200;
  } else {
    leader = 503;
    primary = 503;
  }

  let code: HealthStatusCode;
  let filterByTags = true;
  switch (input.check) {
    case 'standby_leader':
      code = standbyLeader;
      filterByTags = false;
      break;
    case 'leader':
      code = leader;
      filterByTags = false;
      break;
    case 'primary':
      code = primary;
      filterByTags = false;
      break;
    case 'replica':
      code = replica;
      break;
    case 'read_only':
      code = primary === 200 || standbyLeader === 200 ? 200 : replica;
      break;
    case 'health':
      code = postgres.state === 'running' ? 200 : 503;
      break;
    case 'sync':
      code = input.viewKnown && input.syncStandby ? replica : 503;
      break;
    case 'async':
      code = input.viewKnown && !input.syncStandby ? replica : 503;
      break;
    case 'read_only_sync':
      if (!input.viewKnown) code = 503;
      else if (primary === 200 || standbyLeader === 200) code = 200;
      else code = input.syncStandby ? replica : 503;
      break;
  }

  if (filterByTags && code === 200 && !tagsMatch(query, input.tags)) return 503;
  return code;
}
