// Whether local data has diverged from the leader's timeline, judged from the group's `history`
// (the switch points of past promotions) so that the check stays pure and needs no connection.
import type { HistoryEntry } from '../dcs/types.ts';

export type Divergence = { kind: 'none' } | { kind: 'diverged'; why: string } | { kind: 'unknown'; why: string };

export interface LocalPosition {
  timeline: number;
  lsn: number;
  cleanShutdown: boolean;
}

/**
 * Local data diverged when it is on a timeline the leader never had, or when it continued past the
 * point where the leader's history left the local timeline. The same timeline never diverges: a
 * promotion always starts a new one.
 */
export function divergence(
  local: LocalPosition,
  leaderTimeline: number | undefined,
  history: HistoryEntry[],
): Divergence {
  if (leaderTimeline === undefined) return { kind: 'unknown', why: 'the leader publishes no timeline yet' };
  if (local.timeline === leaderTimeline) return { kind: 'none' };
  if (local.timeline > leaderTimeline) {
    return { kind: 'diverged', why: `local timeline ${local.timeline} is ahead of the leader's ${leaderTimeline}` };
  }
  const sw = history.find((h) => h[0] === local.timeline);
  if (!sw) return { kind: 'unknown', why: `history has no switch point for timeline ${local.timeline}` };
  if (local.lsn > sw[1]) {
    return {
      kind: 'diverged',
      why: `local WAL ${local.lsn} is past timeline ${local.timeline}'s switch point ${sw[1]}`,
    };
  }
  // An unclean shutdown only gives a lower bound of where local WAL ends, so being at or before
  // the switch point proves nothing.
  if (!local.cleanShutdown) return { kind: 'unknown', why: 'unclean shutdown: local WAL end is not known' };
  return { kind: 'none' };
}
