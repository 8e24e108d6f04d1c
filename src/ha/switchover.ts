// The leader's side of a manual switchover/failover request (`failover` key): step down
// gracefully when a named or any healthy successor can take over, otherwise clear the request.
import { decision, failoverRequest, memberNamed, seconds, syncMatches, syncRestricts } from './facts.ts';
import { askablePeers, askPeers, inSync, viableSuccessors } from './peers.ts';
import type { Action, DecideInput, Decision } from './types.ts';

/**
 * Null when there is no request to act on. `keep` is the action that keeps the lock this cycle;
 * it leads every list so that the lease outlives the graceful stop.
 */
export function switchoverFromLeader(input: DecideInput, walLsn: number, keep: Action): Decision | null {
  const req = failoverRequest(input.view);
  if (!req || input.config.pause) return null;
  const name = input.self.name;
  const clear = (why: string): Decision =>
    decision([keep, { kind: 'clearFailover' }], `clearing the failover request: ${why}`, 'primary');

  if (req.scheduled_at) {
    const at = Date.parse(req.scheduled_at);
    if (Number.isNaN(at)) return clear(`scheduled_at ${JSON.stringify(req.scheduled_at)} is not a timestamp`);
    const delta = at - input.now;
    const loopMs = input.config.loop_wait * 1000;
    if (delta > loopMs) {
      return decision(
        [keep],
        `leader with the lock; switchover scheduled at ${req.scheduled_at} (in ${seconds(delta)})`,
        'primary',
      );
    }
    if (delta < -1.5 * loopMs) return clear(`scheduled_at ${req.scheduled_at} passed ${seconds(-delta)} ago`);
  }
  if (req.leader && req.leader !== name) return clear(`it names ${req.leader} as leader, but ${name} is the leader`);
  if (req.member === name) return clear(`${name} is already the leader`);

  const candidate = req.member;
  if (candidate && !memberNamed(input.view, candidate)) return clear(`candidate ${candidate} is not a member`);
  if (candidate && syncRestricts(input) && !syncMatches(input.view, candidate)) {
    return clear(`candidate ${candidate} is not a synchronous standby`);
  }
  const eligible = candidate
    ? [candidate]
    : askablePeers(input.view, name, syncRestricts(input) ? inSync(input.view) : undefined);
  if (eligible.length === 0) return clear('no member could take over');
  if (input.peers === null)
    return decision([askPeers(eligible)], 'switchover requested: asking candidates for their state');

  const ready = viableSuccessors(input.peers, eligible, walLsn, input.config.maximum_lag_on_failover);
  if (ready.length === 0) {
    return clear(
      candidate
        ? `candidate ${candidate} is not healthy or lags too far`
        : 'no healthy replica within maximum_lag_on_failover',
    );
  }
  return decision(
    [
      keep,
      { kind: 'demote', mode: 'graceful' },
      {
        kind: 'releaseLock',
        handover: { members: candidate ? [candidate] : ready, timeoutMs: input.config.retry_timeout * 1000 },
      },
    ],
    `switchover requested: stepping down gracefully for ${candidate ?? ready.join(', ')}`,
    'demoted',
  );
}
