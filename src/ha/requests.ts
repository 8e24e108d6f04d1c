// decide()'s half of operator requests (REST restart/reinitialize): refuse with a one-line reason
// when the situation does not allow it, otherwise put the request's actions in the cycle's list.
import { decision, holdsLock, isRoutine, leaderName, memberClonefrom, memberNamed, seconds } from './facts.ts';
import type { DecideInput, Decision, HaRequest } from './types.ts';

/** `base` is the decision the cycle would take without the request; the answer extends or keeps it. */
export function answerRequest(input: DecideInput, request: HaRequest, base: Decision): Decision {
  const refused = commonRefusal(input, request);
  if (refused !== null) return refuse(base, refused);
  return request.kind === 'restart' ? answerRestart(input, request, base) : answerReinitialize(input, base);
}

function refuse(base: Decision, reason: string): Decision {
  return { ...base, answer: { kind: 'refused', reason } };
}

function commonRefusal(input: DecideInput, request: HaRequest): string | null {
  if (input.local.kind === 'busy') return `${input.local.task} already in progress`;
  if (input.dcs.kind !== 'ok') return `etcd is unreachable (${input.dcs.error}): cannot ${request.kind} safely`;
  if (input.shuttingDown) return `the agent is shutting down: not starting a ${request.kind}`;
  return null;
}

function answerRestart(input: DecideInput, request: Extract<HaRequest, { kind: 'restart' }>, base: Decision): Decision {
  const local = input.local;
  if (local.kind !== 'runningPrimary' && local.kind !== 'runningReplica') {
    return refuse(base, `PostgreSQL is not running (${local.kind}): nothing to restart`);
  }
  const running = local.kind === 'runningPrimary' ? 'primary' : 'replica';
  if (request.role !== null && request.role !== running) {
    return refuse(base, `restart conditions are not satisfied: role is ${running}, not ${request.role}`);
  }
  if (request.onlyIfPending && input.pendingRestart !== true) {
    return refuse(base, 'restart conditions are not satisfied: no setting is pending a restart');
  }
  if (running === 'primary') {
    if (!holdsLock(input) || input.lock.kind !== 'held') {
      return refuse(base, 'running as primary without holding the leader key: not restarting');
    }
    // The lock is refreshed right before the stop and by every cycle while PostgreSQL is down; a
    // refresh already overdue means etcd is slow enough that the lease itself is at risk.
    const age = input.now - input.lock.confirmedAt;
    if (age > input.config.retry_timeout * 1000) {
      return refuse(base, `the leader key was last confirmed ${seconds(age)} ago: restarting now would risk it`);
    }
  }
  const other = base.actions.find((a) => !isRoutine([a]));
  if (other !== undefined) return refuse(base, `the HA loop has to ${other.kind} first (${base.reason})`);
  const keep = base.actions.filter((a) => a.kind !== 'wait');
  return {
    ...decision(
      [...keep, { kind: 'restart', role: running }],
      `restarting PostgreSQL (${running}) as requested`,
      base.role,
    ),
    answer: { kind: 'accepted', message: 'restart started' },
  };
}

function answerReinitialize(input: DecideInput, base: Decision): Decision {
  const name = input.self.name;
  const leader = leaderName(input.view);
  if (leader === null) return refuse(base, 'Cluster has no leader, can not reinitialize');
  if (leader === name || input.lock.kind === 'held') return refuse(base, 'I am the leader, can not reinitialize');
  const from = cloneSource(input, leader);
  if (from === null) return refuse(base, `leader ${leader} publishes no member key to clone from`);
  return {
    ...decision([{ kind: 'reinitialize', from }], `reinitializing from ${from} as requested`, 'replica'),
    answer: { kind: 'accepted', message: 'reinitialize started' },
  };
}

/** A running member tagged clonefrom (first by name), else the leader; null when the leader has no member key. */
export function cloneSource(input: DecideInput, leader: string): string | null {
  const tagged = input.view.members
    .filter(
      (m) =>
        m.name !== input.self.name &&
        memberClonefrom(m) &&
        m.data.state === 'running' &&
        typeof m.data.conn_url === 'string',
    )
    .map((m) => m.name)
    .sort();
  if (tagged.length > 0) return tagged[0]!;
  const member = memberNamed(input.view, leader);
  return member !== undefined && typeof member.data.conn_url === 'string' ? leader : null;
}
