// The pause protocol's admission rules (docs/design.md, "Pause protocol"): pure checks of a worker
// leader's POST /citus event against the manager's view of etcd. They answer with refusal kinds;
// the REST layer picks the HTTP codes (src/api/pauseStatus.ts).
import type { ClusterView, GroupView } from '../dcs/types.ts';

/**
 * One event of a worker leader, as `POST /citus` carries it (Patroni's body). Units differ from
 * Patroni's wire format on one field: Patroni sends `cooldown` in seconds and multiplies by 1000
 * on the coordinator; here it is already milliseconds, so the HTTP layer converts.
 */
export interface PauseEvent {
  /** `before_demote`: the sender is about to stop being primary; `after_promote`: it now is. */
  type: 'before_demote' | 'after_promote';
  group: number;
  /** Member name of the sender. */
  leader: string;
  /** Seconds from the start of the pause to its hard deadline (Patroni sends its ttl). */
  timeout: number;
  /** `lock_cooldown` of citus_update_node, milliseconds: how long writes in flight may finish. */
  cooldown: number;
}

/**
 * Why an event was not carried out:
 * - `malformed`: a field is missing or out of range; `not-a-worker-group`: group 0 or below;
 * - `unknown-group`: etcd knows no such group; `not-the-leader`: the sender does not hold the
 *   group's leader key; `not-running-primary`: it does, but does not run as primary (yet);
 * - `unavailable`: the manager is not running or is stopping;
 * - `failed`: the pause could not take its locks or ended by rollback (deadline, error).
 */
export type PauseRefusal =
  | 'malformed'
  | 'not-a-worker-group'
  | 'unknown-group'
  | 'not-the-leader'
  | 'not-running-primary'
  | 'unavailable'
  | 'failed';

export type PauseAnswer = { ok: true; message: string } | { ok: false; refusal: PauseRefusal; message: string };

export const refuse = (refusal: PauseRefusal, message: string): PauseAnswer & { ok: false } => ({
  ok: false,
  refusal,
  message,
});

/** The group as the view has it; undefined when etcd knows no such group (unlike dcs/view.ts's groupOf). */
export function findGroup(view: ClusterView, group: number): GroupView | undefined {
  return view.groups.find((g) => g.group === group);
}

/** The event's fields, checked before anything else. */
export function checkEvent(event: PauseEvent): PauseAnswer | null {
  const e = event as Partial<Record<keyof PauseEvent, unknown>>;
  const bad = (message: string) => refuse('malformed', message);
  if (e.type !== 'before_demote' && e.type !== 'after_promote')
    return bad(`unknown event type ${JSON.stringify(e.type)}`);
  if (typeof e.group !== 'number' || !Number.isInteger(e.group)) return bad('group must be an integer');
  if (typeof e.leader !== 'string' || e.leader === '') return bad('leader must be a member name');
  if (typeof e.timeout !== 'number' || !Number.isFinite(e.timeout) || e.timeout <= 0)
    return bad('timeout must be a positive number of seconds');
  if (typeof e.cooldown !== 'number' || !Number.isFinite(e.cooldown) || e.cooldown < 0) {
    return bad('cooldown must be a number of milliseconds');
  }
  if (event.group < 1) return refuse('not-a-worker-group', `group ${event.group} is not a worker group`);
  return null;
}

/** Null when `member` holds `group`'s leader key in the view. */
export function checkLeader(view: ClusterView, group: number, member: string): PauseAnswer | null {
  const g = findGroup(view, group);
  if (g === undefined) return refuse('unknown-group', `group ${group} is unknown`);
  const leader = g.leader?.name ?? null;
  if (leader !== member)
    return refuse(
      'not-the-leader',
      `${member} is not the leader of group ${group} (the leader is ${leader ?? 'nobody'})`,
    );
  return null;
}

/** Null when `member` leads `group` and its member key shows it running as primary. */
export function checkRunningLeader(view: ClusterView, group: number, member: string): PauseAnswer | null {
  const notLeader = checkLeader(view, group, member);
  if (notLeader !== null) return notLeader;
  // Roles as view.ts parses them: an older Patroni's `master` already reads `primary`.
  const m = findGroup(view, group)?.members.find((x) => x.name === member);
  if (m === undefined || m.data.state !== 'running' || m.data.role !== 'primary') {
    const now = m ? `${m.data.state} as ${m.data.role}` : 'no member key';
    return refuse('not-running-primary', `${member} does not run as primary of group ${group} (${now})`);
  }
  return null;
}
