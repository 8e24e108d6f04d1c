// A group's view as the JSON of Patroni's `GET /cluster`: one entry per member with its role,
// state, address and lag. Shared by the REST API and `shardherd list`.
import { memberAddress } from './memberUrl.ts';
import type { GroupView, Member } from './types.ts';

export type SummaryRole = 'leader' | 'sync_standby' | 'replica';

export interface MemberSummary {
  name: string;
  role: SummaryRole;
  state: string;
  api_url: string;
  /** From `conn_url`; absent when it cannot be parsed. */
  host?: string;
  port?: number;
  timeline?: number;
  pending_restart?: boolean;
  scheduled_restart?: unknown;
  tags?: Record<string, string | number | boolean>;
  /** Bytes behind the leader's last known position; absent for the leader itself. */
  lag?: number | 'unknown';
}

export interface ClusterSummary {
  /** Sorted by name. */
  members: MemberSummary[];
  pause?: true;
  scheduled_switchover?: { at: string; from?: string; to?: string };
}

/**
 * The leader's last known WAL position: the `status` key's optime, or, before the leader has
 * written one, the `xlog_location` it publishes in its member key; 0 when neither is known.
 */
export function leaderOptime(view: GroupView | null): number {
  if (view === null) return 0;
  if (view.status && typeof view.status.optime === 'number') return view.status.optime;
  const leaderName = view.leader?.name;
  const leader = leaderName === undefined ? undefined : view.members.find((m) => m.name === leaderName);
  const position = leader?.data.xlog_location;
  return typeof position === 'number' ? position : 0;
}

/** Names listed in the `sync` key's `sync_standby` (a comma-separated list). */
export function syncStandbys(view: GroupView | null): string[] {
  const listed = view?.sync?.value.sync_standby;
  if (!listed) return [];
  return listed
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

/** Whether the dynamic config has `pause: true`. */
export function isPausedView(view: GroupView | null): boolean {
  return view?.config?.value.pause === true;
}

function memberLag(member: Member, clusterLsn: number): number | 'unknown' {
  const position = member.data.xlog_location;
  if (typeof position !== 'number') return 'unknown';
  // A replica reported ahead of a stale optime is shown as not lagging rather than negative.
  return clusterLsn >= position ? clusterLsn - position : 0;
}

export function summarizeGroup(view: GroupView): ClusterSummary {
  const leaderName = view.leader?.name ?? null;
  const clusterLsn = leaderOptime(view);
  const sync = new Set(syncStandbys(view));

  const members = view.members.map((member): MemberSummary => {
    const role: SummaryRole =
      member.name === leaderName ? 'leader' : sync.has(member.name) ? 'sync_standby' : 'replica';
    const summary: MemberSummary = {
      name: member.name,
      role,
      state: member.data.state ?? '',
      api_url: member.data.api_url,
      ...memberAddress(member.data),
    };
    const { timeline, pending_restart, scheduled_restart, tags } = member.data;
    if (timeline !== undefined) summary.timeline = timeline;
    if (pending_restart !== undefined) summary.pending_restart = pending_restart;
    if (scheduled_restart !== undefined) summary.scheduled_restart = scheduled_restart;
    if (tags !== undefined) summary.tags = tags;
    if (role !== 'leader') summary.lag = memberLag(member, clusterLsn);
    return summary;
  });
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const result: ClusterSummary = { members };
  if (isPausedView(view)) result.pause = true;
  const failover = view.failover?.value;
  if (failover?.scheduled_at) {
    const scheduled: { at: string; from?: string; to?: string } = { at: failover.scheduled_at };
    if (failover.leader) scheduled.from = failover.leader;
    if (failover.member) scheduled.to = failover.member;
    result.scheduled_switchover = scheduled;
  }
  return result;
}
