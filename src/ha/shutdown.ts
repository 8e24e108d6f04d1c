// The agent's last cycle (etcd reachable): stop PostgreSQL, then release the lock so a replica can
// take over at once instead of after the lease expires. In pause both are left alone.
import { decision, holdsLock, waiting } from './facts.ts';
import type { Action, DecideInput, Decision } from './types.ts';

export function decideShutdown(input: DecideInput): Decision {
  const local = input.local;
  const lock = holdsLock(input);
  if (input.config.pause)
    return waiting('paused: shutting down the agent, leaving PostgreSQL running and the leader key in place');

  const release: Action[] = lock ? [{ kind: 'releaseLock' }] : [];
  switch (local.kind) {
    case 'runningPrimary':
      return lock
        ? decision(
            [{ kind: 'demote', mode: 'graceful' }, ...release],
            'shutting down: stopping the primary, then releasing the leader key',
            'demoted',
          )
        : decision(
            [{ kind: 'demote', mode: 'offline' }],
            'shutting down: stopping PostgreSQL (a primary without the leader key)',
            'demoted',
          );
    case 'runningReplica':
    case 'starting':
      return decision([{ kind: 'stopPostgres', mode: 'fast' }, ...release], 'shutting down: stopping PostgreSQL');
    default:
      if (lock) return decision(release, 'shutting down: PostgreSQL is not running; releasing the leader key');
      return waiting('shutting down: PostgreSQL is not running and the leader key is not ours');
  }
}
