// etcd could not be read or written this cycle: the view is stale, so nothing is started, and a
// primary keeps running only while its lock was confirmed less than retry_timeout ago.
import { decision, failsafeMembers, seconds, waiting } from './facts.ts';
import type { DecideInput, Decision } from './types.ts';

export function decideWithoutDcs(input: DecideInput): Decision {
  const local = input.local;
  const dcs = input.dcs.kind === 'unreachable' ? input.dcs : null;
  const outage = dcs ? `etcd unreachable for ${seconds(input.now - dcs.since)} (${dcs.error})` : 'etcd unreachable';
  const writable = local.kind === 'runningPrimary' || (local.kind === 'starting' && local.as === 'primary');

  if (input.shuttingDown && !input.config.pause) {
    if (local.kind === 'runningPrimary') {
      return decision(
        [{ kind: 'demote', mode: 'offline' }],
        `shutting down while ${outage}: stopping the primary; the lease will expire`,
        'demoted',
      );
    }
    if (local.kind === 'runningReplica' || local.kind === 'starting') {
      return decision([{ kind: 'stopPostgres', mode: 'fast' }], `shutting down while ${outage}: stopping PostgreSQL`);
    }
    return waiting(`shutting down while ${outage}: PostgreSQL is not running`);
  }

  if (!writable) return waiting(`${outage}: leaving PostgreSQL as it is until the leader is known`);
  if (input.config.pause) return waiting(`paused: ${outage}; continuing as primary`, 'primary');

  const lock = input.lock;
  const limitMs = input.config.retry_timeout * 1000;
  if (lock.kind === 'held') {
    const age = input.now - lock.confirmedAt;
    const failsafe = failsafeDecision(input, outage);
    if (failsafe !== null) return failsafe;
    if (age < limitMs) {
      return waiting(
        `${outage}: lock confirmed ${seconds(age)} ago; demoting if not confirmed within ${seconds(limitMs - age)}`,
        'primary',
      );
    }
    return decision(
      [{ kind: 'demote', mode: 'offline' }],
      `self-fencing: ${outage} and the leader lock was last confirmed ${seconds(age)} ago ` +
        `(retry_timeout ${input.config.retry_timeout}s)`,
      'demoted',
    );
  }
  return decision(
    [{ kind: 'demote', mode: 'offline' }],
    `self-fencing: ${outage} and this primary never confirmed the leader lock`,
    'demoted',
  );
}

/**
 * Failsafe mode: a primary that lost etcd keeps running while every other member listed in the
 * `failsafe` key accepts its POST /failsafe (none of them will take the lead meanwhile). Null
 * when failsafe mode is off or the key lists nobody else, so the usual self-fencing applies.
 */
function failsafeDecision(input: DecideInput, outage: string): Decision | null {
  if (!input.config.failsafe_mode) return null;
  // The key as last read; a leader whose etcd went away right after it wrote the key (before it
  // read it back) calls the members it wrote it from.
  const listed = input.view.failsafe ?? failsafeMembers(input.view);
  const others = Object.fromEntries(Object.entries(listed).filter(([name]) => name !== input.self.name));
  const names = Object.keys(others).sort();
  if (!(input.self.name in listed) || names.length === 0) return null;
  const answers = input.failsafeAnswers ?? null;
  if (answers === null) {
    return decision(
      [{ kind: 'askFailsafe', members: others }],
      `${outage}: failsafe mode, calling ${names.join(', ')}`,
    );
  }
  const refused = names.filter((n) => answers[n] !== true);
  if (refused.length > 0) return null;
  return decision(
    [{ kind: 'confirmLockByFailsafe' }],
    `failsafe mode: ${outage}, but every member (${names.join(', ')}) accepted this primary; keeping it`,
    'primary',
  );
}
