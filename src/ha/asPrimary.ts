// A running primary with etcd reachable: keep the lock and serve, hand over on request, or demote
// as soon as the lock is someone else's.
import { decision, failoverRequest, failsafeMembers, holdsLock, leaderName, waiting } from './facts.ts';
import { switchoverFromLeader } from './switchover.ts';
import { syncWork } from './syncStandbys.ts';
import type { Action, DecideInput, Decision, LocalState } from './types.ts';

type RunningPrimary = Extract<LocalState, { kind: 'runningPrimary' }>;

/** How soon a leader looks again while its synchronous standbys are changing. */
export const SYNC_RECHECK_MS = 500;

export function decideAsPrimary(input: DecideInput, me: RunningPrimary): Decision {
  const name = input.self.name;
  const leader = leaderName(input.view);
  const paused = input.config.pause;

  if (leader === null) {
    // A running primary is the most advanced member by construction: it reclaims the key without
    // a race (the agent restarted, or the key expired while the primary kept running).
    const clear: Action[] = failoverRequest(input.view) ? [{ kind: 'clearFailover' }] : [];
    return decision(
      [{ kind: 'acquireLock' }, ...clear, { kind: 'updateLock', optime: me.walLsn }],
      'running as primary and the group has no leader: taking the leader key',
      'primary',
    );
  }

  if (leader !== name) {
    if (paused)
      return waiting(
        `paused: running as primary while ${leader} holds the leader key; not demoting in pause`,
        'primary',
      );
    return decision(
      [{ kind: 'demote', mode: 'immediate' }],
      `demoting: the leader key is held by ${leader}, not by this primary`,
      'demoted',
    );
  }

  if (lostOnLastRefresh(input) && holdsLock(input)) {
    if (paused)
      return waiting('paused: the last lock refresh failed; continuing as primary without demoting', 'primary');
    return decision(
      [{ kind: 'demote', mode: 'immediate' }],
      `demoting: the last lock refresh was refused (${input.lastCycle?.failed?.message ?? 'compare failed'})`,
      'demoted',
    );
  }

  const keep: Action = { kind: 'updateLock', optime: me.walLsn };
  const handover = switchoverFromLeader(input, me.walLsn, keep);
  if (handover) return handover;
  const sync = syncWork(input, me.replication);
  const d = decision(
    [keep, ...failsafeKeyWrite(input), ...sync.actions],
    sync.unsettled === null
      ? `no action: ${name} is the leader with the lock`
      : `leader with the lock; ${sync.unsettled}`,
    'primary',
  );
  // Each step of a change waits for the last one to show (in force, standbys caught up).
  return sync.unsettled === null ? d : { ...d, recheckMs: SYNC_RECHECK_MS };
}

/** The previous cycle's lock refresh was refused by etcd itself (not an etcd outage). */
export function lostOnLastRefresh(input: DecideInput): boolean {
  return input.lastCycle?.failed?.action.kind === 'updateLock' && input.dcs.kind === 'ok';
}

/** The leader keeps the `failsafe` key listing every member's API address while failsafe mode is on. */
function failsafeKeyWrite(input: DecideInput): Action[] {
  const wanted = input.config.failsafe_mode ? failsafeMembers(input.view) : {};
  const stored = input.view.failsafe ?? {};
  const same =
    Object.keys(wanted).length === Object.keys(stored).length &&
    Object.entries(wanted).every(([name, url]) => stored[name] === url);
  if (same || (!input.config.failsafe_mode && input.view.failsafe === null)) return [];
  return [{ kind: 'writeFailsafe', value: wanted }];
}
