// Rules for comparing this member with the peers it asked over REST: who may be asked, who could
// take over, and who outranks whom in a leader race (position, then failover_priority, then name).
import type { GroupView } from '../dcs/types.ts';
import { memberNofailover, syncMatches } from './facts.ts';
import type { Action, PeerAnswer, PeerPoll } from './types.ts';

/** A peer's standing in a race. */
export interface Standing {
  name: string;
  lsn: number;
  priority: number;
}

/**
 * Members worth asking: every other member that publishes an API address and is not tagged
 * nofailover (such a member never takes the lock, so being behind it must not block everyone).
 */
export function askablePeers(view: GroupView, self: string, only?: (name: string) => boolean): string[] {
  return view.members
    .filter((m) => m.name !== self && m.data.api_url && !memberNofailover(m))
    .filter((m) => (only ? only(m.name) : true))
    .map((m) => m.name)
    .sort();
}

export function askPeers(members: string[]): Action {
  return { kind: 'askPeers', members };
}

export function answerOf(poll: PeerPoll | null, name: string): PeerAnswer {
  return poll?.answers[name] ?? { kind: 'unreachable', error: 'not asked or no answer' };
}

/** A peer that could take the lock: answered, a running replica, not nofailover. */
export function canTakeOver(a: PeerAnswer): a is Extract<PeerAnswer, { kind: 'answered' }> {
  return a.kind === 'answered' && a.role === 'replica' && a.state === 'running' && !a.nofailover;
}

/** `a` wins against `b`: further WAL, or equal WAL and higher priority, or both equal and smaller name. */
export function outranks(a: Standing, b: Standing): boolean {
  if (a.lsn !== b.lsn) return a.lsn > b.lsn;
  if (a.priority !== b.priority) return a.priority > b.priority;
  return a.name < b.name;
}

/** Peers that could take over within `maxLag` bytes of `reference`. */
export function viableSuccessors(
  poll: PeerPoll | null,
  names: string[],
  reference: number | null,
  maxLag: number,
): string[] {
  return names.filter((n) => {
    const a = answerOf(poll, n);
    return canTakeOver(a) && (reference === null || reference - a.walPosition <= maxLag);
  });
}

export function inSync(view: GroupView): (name: string) => boolean {
  return (name) => syncMatches(view, name);
}

/** The first of `members` that answered as a replica holding WAL past `lsn` (a switchover's handover). */
export function successorPast(poll: PeerPoll, members: readonly string[], lsn: number): string | undefined {
  return members.find((m) => {
    const a = answerOf(poll, m);
    return a.kind === 'answered' && a.role === 'replica' && a.walPosition > lsn;
  });
}

/** `name: position` (or why there is none) for each of `members`, for a log line. */
export function positionsText(poll: PeerPoll, members: readonly string[]): string {
  return members
    .map((m) => {
      const a = answerOf(poll, m);
      return `${m}: ${a.kind === 'answered' ? a.walPosition : a.error}`;
    })
    .join(', ');
}
