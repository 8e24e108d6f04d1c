// The leader race of a running replica when the group has no leader key (docs/design.md, "Safety
// rules of the HA loop"): take the lock only when healthy, allowed, close enough to the last
// leader position and not outranked by any reachable peer; a pending switchover/failover request
// narrows who may run.
import type { FailoverState } from '../dcs/types.ts';
import {
  clusterTimeline,
  decision,
  failoverRequest,
  lastKnownLeaderLsn,
  syncMatches,
  syncRestricts,
  waiting,
} from './facts.ts';
import {
  answerOf,
  askablePeers,
  askPeers,
  canTakeOver,
  inSync,
  outranks,
  viableSuccessors,
  type Standing,
} from './peers.ts';
import { claimSyncKey, quorumShortfall } from './syncStandbys.ts';
import type { DecideInput, Decision, LocalState } from './types.ts';

type RunningReplica = Extract<LocalState, { kind: 'runningReplica' }>;

export function replicaPosition(me: RunningReplica): number {
  return Math.max(me.receivedLsn ?? 0, me.replayedLsn);
}

/** Decide a running replica's move while nobody holds the leader key (not paused, etcd reachable). */
export function raceForLeader(input: DecideInput, me: RunningReplica): Decision {
  const name = input.self.name;
  if (input.self.tags.nofailover) return stayReplica('tagged nofailover, not allowed to take the leader key');
  if (input.failsafeLeader && input.failsafeLeader !== name) {
    return stayReplica(`failsafe mode: ${input.failsafeLeader} keeps its lead while it calls this member`);
  }
  const refusedAgo = input.now - (input.promotionRefusedAt ?? Number.NEGATIVE_INFINITY);
  if (refusedAgo < input.config.ttl * 1000) {
    return stayReplica(`pre_promote refused a promotion ${Math.round(refusedAgo / 1000)} s ago; sitting out for ttl`);
  }

  const lsn = replicaPosition(me);
  const known = lastKnownLeaderLsn(input.view);
  const streamed = me.receivedLsn !== null && me.receivedLsn > 0;
  // A replica that never streamed may miss commits its base backup predates; it qualifies only
  // when it already holds everything the last leader reported (a whole-group restart).
  if (!streamed && !(known !== null && lsn >= known)) {
    return stayReplica(
      `has not streamed from a leader since start and is at ${lsn}, ` +
        `behind the last leader position ${known ?? 'unknown'}`,
    );
  }

  const request = failoverRequest(input.view);
  if (request) return raceUnderRequest(input, me, lsn, request);

  if (syncRestricts(input) && !syncMatches(input.view, name)) {
    return stayReplica('synchronous mode: not listed in sync, not allowed to take the leader key');
  }
  if (known !== null && known - lsn > input.config.maximum_lag_on_failover) {
    return stayReplica(
      `position ${lsn} lags the last leader position ${known} by ${known - lsn} bytes, ` +
        `over maximum_lag_on_failover ${input.config.maximum_lag_on_failover}`,
    );
  }
  const groupTimeline = clusterTimeline(input.view);
  if (input.config.check_timeline && me.timeline < groupTimeline) {
    return stayReplica(`timeline ${me.timeline} is behind the group's timeline ${groupTimeline}`);
  }

  const sync = syncRestricts(input);
  const peers = askablePeers(input.view, name, sync ? inSync(input.view) : undefined);
  if (peers.length > 0 && input.peers === null)
    return decision([askPeers(peers)], 'no leader: asking peers for their positions before the leader race');
  const formerSyncLeader = sync ? (input.view.sync?.value.leader ?? null) : null;
  // A peer ahead that will refuse the race itself (see above) must not hold everyone back.
  const blocker = outrankedBy(input, standing(input, lsn), peers, formerSyncLeader);
  if (blocker) return stayReplica(blocker);
  const shortfall = quorumShortfall(input);
  if (shortfall) return stayReplica(shortfall);
  return win(input, me, lsn, `won the leader race at position ${lsn} on timeline ${me.timeline}`, false);
}

/** The race while `failover` asks for a switchover/failover: the named member goes first. */
function raceUnderRequest(input: DecideInput, me: RunningReplica, lsn: number, req: FailoverState): Decision {
  const name = input.self.name;
  if (req.member === name) return win(input, me, lsn, 'manual failover to this member requested', true);
  if (syncRestricts(input) && !syncMatches(input.view, name)) {
    return stayReplica('manual failover in synchronous mode: not listed in sync');
  }
  const peers = askablePeers(input.view, name);
  const candidate = req.member;
  if (peers.length > 0 && input.peers === null) {
    return decision(
      [askPeers(peers)],
      `manual failover${candidate ? ` to ${candidate}` : ''} pending: asking peers for their state`,
    );
  }
  if (candidate && canTakeOver(answerOf(input.peers, candidate))) {
    return stayReplica(`manual failover to ${candidate} requested and ${candidate} is healthy: leaving the lock to it`);
  }
  // The named member cannot take over (or none was named): everyone but the former leader races,
  // without the lag limit, since the request itself accepts the data of the best replica.
  const excluded = new Set([req.leader, candidate].filter((n): n is string => !!n));
  const others = peers.filter((n) => !excluded.has(n));
  if (req.leader === name) {
    const successors = viableSuccessors(input.peers, others, null, Number.POSITIVE_INFINITY);
    if (successors.length > 0) {
      return stayReplica(`switched away from as leader; ${successors.join(', ')} can take over`);
    }
    return win(
      input,
      me,
      lsn,
      'manual failover away from this member found no healthy successor: taking the lock back',
      true,
    );
  }
  const blocker = outrankedBy(input, standing(input, lsn), others, null);
  if (blocker) return stayReplica(blocker);
  const why = candidate
    ? `manual failover to ${candidate}, which cannot take over: won the race instead`
    : 'manual failover: won the race';
  return win(input, me, lsn, `${why} at position ${lsn}`, true);
}

function standing(input: DecideInput, lsn: number): Standing {
  return { name: input.self.name, lsn, priority: input.self.tags.failover_priority };
}

/** Why a peer beats us, or null. Unreachable peers and peers that cannot take over are ignored. */
function outrankedBy(input: DecideInput, me: Standing, peers: string[], ignoreAhead: string | null): string | null {
  for (const n of peers) {
    const a = answerOf(input.peers, n);
    if (a.kind === 'answered' && a.role === 'primary' && a.state === 'running') return `primary ${n} is still running`;
  }
  const known = lastKnownLeaderLsn(input.view);
  for (const n of peers) {
    const a = answerOf(input.peers, n);
    if (!canTakeOver(a) || n === ignoreAhead) continue;
    if (a.notStreamed && !(known !== null && a.walPosition >= known)) continue;
    const peer: Standing = { name: n, lsn: a.walPosition, priority: a.failoverPriority };
    if (!outranks(peer, me)) continue;
    if (peer.lsn > me.lsn) return `${n} is ahead (${peer.lsn} > ${me.lsn})`;
    return peer.priority !== me.priority
      ? `${n} is at the same position with higher failover_priority ${peer.priority} > ${me.priority}`
      : `${n} is at the same position and priority and sorts first by name`;
  }
  return null;
}

function win(input: DecideInput, me: RunningReplica, lsn: number, why: string, clearRequest: boolean): Decision {
  const name = input.self.name;
  return decision(
    [
      { kind: 'acquireLock' },
      ...(clearRequest && input.view.failover ? [{ kind: 'clearFailover' } as const] : []),
      ...claimSyncKey(input),
      { kind: 'promote' },
      { kind: 'writeHistory', entry: [me.timeline, lsn, why, new Date(input.now).toISOString(), name] },
    ],
    `promoting: ${why}`,
    'primary',
  );
}

function stayReplica(why: string): Decision {
  return waiting(`no leader; staying a replica: ${why}`, 'replica');
}
