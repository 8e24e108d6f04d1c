// What this member publishes in `members/<name>`: Patroni's fields, from the local state.
import { publishedTags } from '../config/tags.ts';
import type { Config } from '../config/types.ts';
import { apiUrl, connUrl } from '../dcs/memberUrl.ts';
import type { MemberData } from '../dcs/types.ts';
import type { CloneStatus } from '../postgres/cloneWatch.ts';
import type { LocalState } from './types.ts';

const TASK_STATE = {
  bootstrap: 'initializing new cluster',
  clone: 'creating replica',
  rewind: 'rewinding',
  reinitialize: 'creating replica',
  restart: 'restarting',
} as const;

/** Patroni's `state` word for a local state. */
export function stateWord(local: LocalState): string {
  switch (local.kind) {
    case 'noData':
      return 'stopped';
    case 'busy':
      return TASK_STATE[local.task];
    case 'stopped':
      return 'stopped';
    case 'starting':
      return 'starting';
    case 'runningPrimary':
    case 'runningReplica':
      return 'running';
    case 'crashed':
      return 'crashed';
    case 'startFailed':
      return 'start failed';
  }
}

/** Patroni's `role` word: what PostgreSQL runs as (or last ran as). */
export function roleWord(local: LocalState, holdsLock: boolean): string {
  switch (local.kind) {
    case 'noData':
      return 'uninitialized';
    case 'busy':
      // A restarting member keeps its role: it is neither a new member nor a demoted primary.
      return local.role ?? 'uninitialized';
    case 'runningPrimary':
      return 'primary';
    case 'runningReplica':
      return 'replica';
    case 'starting':
      return local.as;
    case 'stopped':
    case 'crashed':
    case 'startFailed':
      return local.data.lastRole === 'primary' && !holdsLock ? 'demoted' : local.data.lastRole;
  }
}

export interface MemberExtras {
  version: string;
  paused: boolean;
  pendingRestart: boolean;
  /** Published as `scheduled_restart`, as Patroni does, so `list` shows it. */
  scheduledRestart?: Record<string, unknown> | null;
  /** A clone in flight: published as `clone_progress` (Shardherd's own) while the state says so. */
  cloneProgress?: CloneStatus | null;
}

export function buildMemberData(
  config: Config,
  local: LocalState,
  holdsLock: boolean,
  extras: MemberExtras,
): MemberData {
  const pg = config.postgresql.connect_address;
  const api = config.restapi.connect_address;
  const data: MemberData = {
    conn_url: connUrl(pg.host, pg.port),
    api_url: apiUrl(api.host, api.port, config.restapi.tls !== undefined),
    state: stateWord(local),
    role: roleWord(local, holdsLock),
    version: extras.version,
  };
  if (local.kind === 'runningPrimary') {
    data.xlog_location = local.walLsn;
    data.timeline = local.timeline;
  } else if (local.kind === 'runningReplica') {
    data.xlog_location = Math.max(local.receivedLsn ?? 0, local.replayedLsn);
    data.timeline = local.timeline;
    if (local.streaming) data.replication_state = 'streaming';
  }
  // Patroni's field for a pooler beside the node; the Citus manager turns it into poolinfo.
  const pooler = config.citus?.pooler;
  if (pooler !== undefined) data.proxy_url = connUrl(pooler.host, pooler.port, config.citus?.database);
  const tags = publishedTags(config.tags);
  if (Object.keys(tags).length > 0) data.tags = tags;
  if (extras.pendingRestart) data.pending_restart = true;
  if (extras.scheduledRestart) data.scheduled_restart = extras.scheduledRestart;
  if (extras.paused) data.pause = true;
  if (extras.cloneProgress && local.kind === 'busy') data.clone_progress = extras.cloneProgress;
  return data;
}
