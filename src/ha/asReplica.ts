// A running replica with etcd reachable: follow the leader, promote when the lock is ours, race
// when there is no leader, and rewind when its timeline left the leader's history.
import { divergence } from './divergence.ts';
import { decision, failoverRequest, leaderName, memberNamed, waiting } from './facts.ts';
import { raceForLeader, replicaPosition } from './leaderRace.ts';
import { repairFrom } from './rejoin.ts';
import { claimSyncKey } from './syncStandbys.ts';
import type { DecideInput, Decision, LocalState } from './types.ts';

type RunningReplica = Extract<LocalState, { kind: 'runningReplica' }>;

export function decideAsReplica(input: DecideInput, me: RunningReplica): Decision {
  const name = input.self.name;
  const leader = leaderName(input.view);
  const paused = input.config.pause;

  if (leader === null) {
    if (paused) return waiting('paused: the group has no leader; not racing for the leader key', 'replica');
    return raceForLeader(input, me);
  }

  if (leader === name) {
    if (paused) {
      // Pause forbids promotion, and a lock holder that is not a primary misleads everyone.
      return decision(
        [{ kind: 'releaseLock' }],
        'paused: holding the leader key while running as a replica; releasing it',
        'replica',
      );
    }
    const lsn = replicaPosition(me);
    const why = 'holding the leader key while running as a replica';
    return decision(
      [
        { kind: 'updateLock', optime: null },
        ...(failoverRequest(input.view) ? [{ kind: 'clearFailover' } as const] : []),
        ...claimSyncKey(input),
        { kind: 'promote' },
        { kind: 'writeHistory', entry: [me.timeline, lsn, why, new Date(input.now).toISOString(), name] },
      ],
      `promoting: ${why}`,
      'primary',
    );
  }

  const leaderMember = memberNamed(input.view, leader);
  if (!leaderMember) return waiting(`leader ${leader} has no member key yet; keeping replication as it is`, 'replica');

  if (!me.streaming && me.upstream === leader && !paused) {
    const div = divergence(
      { timeline: me.timeline, lsn: replicaPosition(me), cleanShutdown: true },
      leaderMember.data.timeline,
      input.view.history?.value ?? [],
    );
    if (div.kind === 'diverged') return repairFrom(input, leader, div.why);
    // The leader's history does not go through this timeline (a race that skipped it): this
    // replica cannot stream until rewound. pg_rewind is safe to try, as it changes nothing when
    // nothing diverged; re-cloning on a guess is not, so without pg_rewind it keeps waiting.
    const history = input.view.history?.value ?? [];
    const skipped = div.kind === 'unknown' && history.length > 0 && (leaderMember.data.timeline ?? 0) > me.timeline;
    if (skipped && input.config.postgresql.use_pg_rewind && input.lastCycle?.failed?.action.kind !== 'rewind') {
      return repairFrom(input, leader, `${div.why}, and ${leader} is on timeline ${leaderMember.data.timeline}`);
    }
  }

  if (me.upstream !== leader) {
    return decision(
      [{ kind: 'follow', leader }],
      `following leader ${leader} (replication was pointing at ${me.upstream ?? 'nothing'})`,
      'replica',
    );
  }
  return waiting(
    `no action: a replica following leader ${leader}${me.streaming ? '' : ' (not streaming yet)'}`,
    'replica',
  );
}
