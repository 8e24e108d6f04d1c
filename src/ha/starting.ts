// PostgreSQL is starting and etcd is reachable: a lock holder keeps its lock while it starts (and
// gives it up after primary_start_timeout when a replica can take over); a start as primary
// without the lock is stopped at once.
import { decision, holdsLock, seconds, waiting } from './facts.ts';
import { successorDecision } from './notRunning.ts';
import type { DecideInput, Decision, LocalState } from './types.ts';

type Starting = Extract<LocalState, { kind: 'starting' }>;

export function decideWhileStarting(input: DecideInput, local: Starting): Decision {
  const elapsed = input.now - local.since;
  if (!holdsLock(input)) {
    if (local.as === 'primary' && !input.config.pause) {
      return decision(
        [{ kind: 'demote', mode: 'immediate' }],
        'stopping PostgreSQL that is starting as primary without holding the leader key',
        'demoted',
      );
    }
    return waiting(`PostgreSQL is starting as ${local.as} (${seconds(elapsed)} so far)`, local.as);
  }

  const keep = { kind: 'updateLock', optime: null } as const;
  if (local.as === 'replica') {
    return decision(
      [keep],
      `holding the leader key while PostgreSQL starts as a replica; promoting once it is up`,
      'replica',
    );
  }
  const timeoutMs = input.config.primary_start_timeout * 1000;
  if (elapsed < timeoutMs || input.config.pause) {
    return decision(
      [keep],
      `PostgreSQL is starting as primary, ${seconds(Math.max(0, timeoutMs - elapsed))} until primary_start_timeout`,
      'primary',
    );
  }
  const giveUp = successorDecision(input, (successors) =>
    decision(
      [{ kind: 'demote', mode: 'immediate' }, { kind: 'releaseLock' }],
      `primary start exceeded primary_start_timeout ${input.config.primary_start_timeout}s: ` +
        `stopping and releasing the leader key for ${successors.join(', ')}`,
      'demoted',
    ),
  );
  return (
    giveUp ??
    decision(
      [keep],
      'primary start exceeded primary_start_timeout, but no replica can take over: still waiting',
      'primary',
    )
  );
}
