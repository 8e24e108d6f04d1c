// PostgreSQL is down (stopped, crashed, or its start failed) and etcd is reachable: restart a
// crashed primary in place while primary_start_timeout allows, otherwise start in the right role.
import { decision, holdsLock, lastKnownLeaderLsn, leaderName, seconds, waiting } from './facts.ts';
import { askablePeers, askPeers, viableSuccessors } from './peers.ts';
import { rejoinLeader } from './rejoin.ts';
import type { DecideInput, Decision, LocalState } from './types.ts';

type Down = Extract<LocalState, { kind: 'stopped' | 'crashed' | 'startFailed' }>;

export function decideWhileDown(input: DecideInput, local: Down): Decision {
  const data = local.data;
  const leader = leaderName(input.view);
  const context = describe(local);

  if (input.config.pause) {
    if (holdsLock(input)) {
      return decision([{ kind: 'releaseLock' }], `paused and ${context}: releasing the leader key`, 'demoted');
    }
    return waiting(`paused: ${context} and will not be started`);
  }

  if (holdsLock(input)) {
    if (local.kind === 'startFailed') {
      return decision(
        [{ kind: 'releaseLock' }],
        `${context}: releasing the leader key so a replica can take over`,
        'demoted',
      );
    }
    if (data.lastRole !== 'primary') {
      return decision(
        [
          { kind: 'updateLock', optime: null },
          { kind: 'follow', leader: null },
          { kind: 'startPostgres', as: 'replica' },
        ],
        `${context} while holding the leader key; starting as a replica to promote once up`,
        'replica',
      );
    }
    if (local.kind === 'crashed') return crashedLeader(input, local);
    return decision(
      [
        { kind: 'updateLock', optime: data.lsn },
        { kind: 'startPostgres', as: 'primary' },
      ],
      `${context} while holding the leader key; starting as primary`,
      'primary',
    );
  }

  if (leader === null) {
    return decision(
      [
        { kind: 'follow', leader: null },
        { kind: 'startPostgres', as: 'replica' },
      ],
      `${context} and the group has no leader; starting as a replica without upstream to join the leader race`,
      'replica',
    );
  }
  return rejoinLeader(input, data, leader, context, local.kind === 'startFailed' ? local.message : null);
}

/**
 * A crashed primary that still holds the lock: restart in place within primary_start_timeout
 * (same timeline, no failover); beyond it, or at once with 0, give the lock up, but only when
 * some replica can take over (otherwise restarting is still the best available).
 */
function crashedLeader(input: DecideInput, local: Extract<Down, { kind: 'crashed' }>): Decision {
  const timeoutMs = input.config.primary_start_timeout * 1000;
  const elapsed = input.now - local.since;
  const restart = (why: string) =>
    decision(
      [
        { kind: 'updateLock', optime: local.data.lsn },
        { kind: 'restartInPlace', as: local.data.lastRole },
      ],
      why,
      'primary',
    );
  if (elapsed < timeoutMs) {
    return restart(
      `primary crashed ${seconds(elapsed)} ago: restarting in place ` +
        `(primary_start_timeout leaves ${seconds(timeoutMs - elapsed)})`,
    );
  }
  const giveUp = successorDecision(input, (successors) =>
    decision(
      [{ kind: 'releaseLock' }],
      `primary crashed ${seconds(elapsed)} ago, beyond primary_start_timeout ` +
        `${input.config.primary_start_timeout}s: releasing the leader key for ${successors.join(', ')}`,
      'demoted',
    ),
  );
  return (
    giveUp ??
    restart(
      `primary crashed ${seconds(elapsed)} ago, beyond primary_start_timeout, ` +
        'but no replica can take over: restarting in place',
    )
  );
}

/**
 * Asks peers (first call) or, with answers, calls `onPossible` when some replica could take over
 * within maximum_lag_on_failover of the last leader position. Null when nobody can.
 */
export function successorDecision(input: DecideInput, onPossible: (successors: string[]) => Decision): Decision | null {
  const peers = askablePeers(input.view, input.self.name);
  if (peers.length === 0) return null;
  if (input.peers === null) return decision([askPeers(peers)], 'asking peers whether a replica could take over');
  const ready = viableSuccessors(
    input.peers,
    peers,
    lastKnownLeaderLsn(input.view),
    input.config.maximum_lag_on_failover,
  );
  return ready.length > 0 ? onPossible(ready) : null;
}

function describe(local: Down): string {
  switch (local.kind) {
    case 'stopped':
      return `PostgreSQL is stopped${local.data.cleanShutdown ? '' : ' (not shut down cleanly)'}`;
    case 'crashed':
      return 'PostgreSQL crashed';
    case 'startFailed':
      return `PostgreSQL failed to start as ${local.as}: ${local.message}`;
  }
}
