// Small pure questions about a DecideInput that several situations ask: who leads, where the
// group's WAL was last seen, whether a member may fail over. No decisions are taken here.
import type { FailoverState, GroupView, HistoryEntry, Member } from '../dcs/types.ts';
import type { Action, DcsHealth, DecideInput, Decision, DecidedRole, LockState } from './types.ts';

export function decision(actions: Action[], reason: string, role?: DecidedRole): Decision {
  return role === undefined ? { actions, reason } : { actions, reason, role };
}

/** A decision to change nothing; the reason is also the wait action's, so the log reads the same. */
export function waiting(reason: string, role?: DecidedRole): Decision {
  return decision([{ kind: 'wait', reason }], reason, role);
}

export function leaderName(view: GroupView): string | null {
  return view.leader?.name ?? null;
}

/** The view names this member as leader. Authoritative when etcd was read in this cycle. */
export function holdsLock(input: DecideInput): boolean {
  return leaderName(input.view) === input.self.name;
}

/**
 * The lock as this cycle may count on it: when etcd, read this cycle, names another leader or
 * none, the lock is not ours, whatever was recorded before (it expired while the agent was frozen,
 * say). A stale `held` would keep a shutdown waiting for a release that can never happen.
 */
export function ownLock(lock: LockState, dcs: DcsHealth, view: GroupView, name: string): LockState {
  return dcs.kind === 'ok' && leaderName(view) !== name ? { kind: 'notHeld' } : lock;
}

/** Actions of a cycle that changes nothing: it is logged quietly, a restart or a render may go after it. */
const ROUTINE: ReadonlySet<Action['kind']> = new Set(['updateLock', 'touchMember', 'wait', 'follow']);

export function isRoutine(actions: readonly Action[]): boolean {
  return actions.every((a) => ROUTINE.has(a.kind));
}

export function memberNamed(view: GroupView, name: string): Member | undefined {
  return view.members.find((m) => m.name === name);
}

function truthyTag(value: unknown): boolean {
  return value === true || value === 'true' || value === 'on' || value === 'yes';
}

export function memberNofailover(member: Member): boolean {
  return truthyTag(member.data.tags?.nofailover);
}

export function memberNosync(member: Member): boolean {
  return truthyTag(member.data.tags?.nosync);
}

export function memberClonefrom(member: Member): boolean {
  return truthyTag(member.data.tags?.clonefrom);
}

/**
 * The furthest WAL position the group's leader is known to have reached: `status.optime` (written
 * with every lock refresh and on release) or a primary's own published xlog_location.
 */
export function lastKnownLeaderLsn(view: GroupView): number | null {
  let best: number | null = view.status?.optime ?? null;
  for (const m of view.members) {
    const loc = m.data.xlog_location;
    if (m.data.role === 'primary' && typeof loc === 'number' && (best === null || loc > best)) best = loc;
  }
  return best;
}

/** The timeline the group is on according to `history` (last switch + 1); 0 when unknown. */
export function clusterTimeline(view: GroupView): number {
  const lines = view.history?.value ?? [];
  const last = lines[lines.length - 1];
  return last === undefined ? 0 : last[0] + 1;
}

/** `failover` key when it asks for something (`{}` and a missing key ask for nothing). */
export function failoverRequest(view: GroupView): FailoverState | null {
  const f = view.failover?.value;
  if (!f || (!f.leader && !f.member)) return null;
  return f;
}

/** Synchronous mode is on and the `sync` key names a leader, so only it and its standbys may promote. */
export function syncRestricts(input: DecideInput): boolean {
  return input.config.synchronous_mode !== 'off' && !!input.view.sync?.value.leader;
}

export function syncMatches(view: GroupView, name: string): boolean {
  const sync = view.sync?.value;
  if (!sync) return false;
  if (sync.leader === name) return true;
  return (sync.sync_standby ?? '')
    .split(',')
    .map((s) => s.trim())
    .includes(name);
}

/** A system id as the bootstrap winner writes it: digits; `""` means bootstrap is still running. */
export function validSystemId(id: string | null): id is string {
  return id !== null && /^\d+$/.test(id);
}

export function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

/** Adds a history line, replacing one for the same timeline (a retried promote must not duplicate it). */
export function mergeHistory(history: HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  return [...history.filter((h) => h[0] !== entry[0]), entry].sort((a, b) => a[0] - b[0]);
}

/** What the `failsafe` key lists: every member with an API address, by name. */
export function failsafeMembers(view: GroupView): Record<string, string> {
  const members: Record<string, string> = {};
  for (const m of view.members)
    if (typeof m.data.api_url === 'string' && m.data.api_url) members[m.name] = m.data.api_url;
  return members;
}
