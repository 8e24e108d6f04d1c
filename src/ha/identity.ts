// Whether local data belongs to this group: compare its system id with `initialize`, claim the key
// for data that predates it, and refuse to join a foreign cluster.
import { decision, holdsLock, leaderName, validSystemId, waiting } from './facts.ts';
import type { Action, DecideInput, Decision, LocalState } from './types.ts';

type WithData = Exclude<LocalState, { kind: 'noData' | 'busy' }>;

/** `refuse`: stop here with this decision; `claim`: prepend these actions and go on. */
export type IdentityVerdict = { kind: 'refuse'; decision: Decision } | { kind: 'ok'; prefix: Action[] };

export function systemIdOf(local: WithData): string {
  return local.kind === 'runningPrimary' || local.kind === 'runningReplica' ? local.systemId : local.data.systemId;
}

export function checkIdentity(input: DecideInput, local: WithData): IdentityVerdict {
  const mine = systemIdOf(local);
  const theirs = input.view.initialize;
  const paused = input.config.pause;

  if (validSystemId(theirs) && theirs !== mine) {
    const why = `system id ${mine} differs from the cluster's ${theirs}: refusing to join`;
    const release: Action[] = holdsLock(input) ? [{ kind: 'releaseLock' }] : [];
    if (paused)
      return refuse(
        release.length ? decision(release, `paused; ${why}; releasing the leader key`) : waiting(`paused; ${why}`),
      );
    const stop: Action[] =
      local.kind === 'runningPrimary'
        ? [{ kind: 'demote', mode: 'offline' }]
        : local.kind === 'runningReplica' || local.kind === 'starting'
          ? [{ kind: 'stopPostgres', mode: 'fast' }]
          : [];
    if (stop.length === 0 && release.length === 0) return refuse(waiting(why, 'uninitialized'));
    return refuse(decision([...stop, ...release], `${why}; stopping PostgreSQL`, 'uninitialized'));
  }

  if (theirs === null && !paused && (holdsLock(input) || leaderName(input.view) === null)) {
    if (local.kind === 'runningReplica' && !holdsLock(input)) {
      return refuse(
        waiting('no initialize key and PostgreSQL runs as a replica: start the agent of the primary first', 'replica'),
      );
    }
    return { kind: 'ok', prefix: [{ kind: 'claimInitialize', systemId: mine }] };
  }
  return { kind: 'ok', prefix: [] };
}

function refuse(d: Decision): IdentityVerdict {
  return { kind: 'refuse', decision: d };
}
