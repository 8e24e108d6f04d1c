// Operator requests in decide(): each refusal with its reason, and the actions of an accepted
// restart or reinitialize on top of what the cycle does anyway.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide } from '../../../src/ha/decide.ts';
import type { ActionKind, DecideInput, Decision, HaRequest } from '../../../src/ha/types.ts';
import { asLeader, config, input, leaderMember, local, member, SELF, T0, underLeader, view } from './fixtures.ts';

const restart = (over: Partial<Extract<HaRequest, { kind: 'restart' }>> = {}): HaRequest => ({
  kind: 'restart',
  role: null,
  onlyIfPending: false,
  ...over,
});
const reinit: HaRequest = { kind: 'reinitialize', force: false };

function kinds(d: Decision): ActionKind[] {
  return d.actions.map((a) => a.kind).filter((k) => k !== 'touchMember');
}

function refused(d: Decision, pattern: RegExp): void {
  assert.equal(d.answer?.kind, 'refused', `expected a refusal, got ${JSON.stringify(d.answer)}`);
  if (d.answer?.kind === 'refused') assert.match(d.answer.reason, pattern);
  assert.ok(
    !d.actions.some((a) => a.kind === 'restart' || a.kind === 'reinitialize'),
    'a refused request adds no action',
  );
}

function with_(base: DecideInput, request: HaRequest, extra: Partial<DecideInput> = {}): DecideInput {
  return { ...base, ...extra, request };
}

describe('restart requests', () => {
  test('the leader refreshes its lock, then restarts', () => {
    const d = decide(with_(asLeader(), restart()));
    assert.deepEqual(kinds(d), ['updateLock', 'restart']);
    assert.deepEqual(d.actions[1], { kind: 'restart', role: 'primary' });
    assert.deepEqual(d.answer, { kind: 'accepted', message: 'restart started' });
    assert.equal(d.role, 'primary');
  });

  test('a streaming replica restarts', () => {
    const d = decide(with_(underLeader(), restart()));
    assert.deepEqual(kinds(d), ['restart']);
    assert.deepEqual(d.actions[0], { kind: 'restart', role: 'replica' });
    assert.equal(d.answer?.kind, 'accepted');
  });

  test('a replica pointed elsewhere re-points and restarts in the same cycle', () => {
    const d = decide(with_(underLeader({ local: local.replica({ upstream: 'n3', streaming: true }) }), restart()));
    assert.deepEqual(kinds(d), ['follow', 'restart']);
  });

  test('a role condition that does not match is refused with both roles named', () => {
    refused(decide(with_(asLeader(), restart({ role: 'replica' }))), /role is primary, not replica/);
    refused(decide(with_(underLeader(), restart({ role: 'primary' }))), /role is replica, not primary/);
  });

  test('a matching role condition restarts', () => {
    assert.deepEqual(kinds(decide(with_(underLeader(), restart({ role: 'replica' })))), ['restart']);
  });

  test('restart_pending without a pending setting is refused, with one it restarts', () => {
    refused(decide(with_(underLeader(), restart({ onlyIfPending: true }))), /no setting is pending a restart/);
    assert.deepEqual(kinds(decide(with_(underLeader(), restart({ onlyIfPending: true }), { pendingRestart: true }))), [
      'restart',
    ]);
  });

  test('a primary without the leader key is not restarted', () => {
    const d = decide(with_(asLeader({ lock: { kind: 'notHeld' } }), restart()));
    refused(d, /without holding the leader key/);
  });

  test('a leader whose last lock refresh is older than retry_timeout refuses: the lease is at risk', () => {
    const d = decide(with_(asLeader({ lock: { kind: 'held', confirmedAt: T0 - 11_000 } }), restart()));
    refused(d, /last confirmed 11s ago/);
    assert.deepEqual(kinds(d), ['updateLock'], 'the cycle still refreshes the lock');
  });

  test('a stopped PostgreSQL is not restarted', () => {
    refused(decide(with_(underLeader({ local: local.stopped() }), restart())), /not running \(stopped\)/);
  });

  test('a running long task refuses any request, and the leader keeps its lock meanwhile', () => {
    const d = decide(
      with_(asLeader({ local: { kind: 'busy', task: 'restart', since: T0 - 1000, role: 'primary' } }), restart()),
    );
    refused(d, /restart already in progress/);
    assert.deepEqual(kinds(d), ['updateLock']);
    refused(decide(with_(underLeader({ local: local.busy('clone') }), reinit)), /clone already in progress/);
  });

  test('etcd unreachable refuses', () => {
    refused(
      decide(with_(asLeader({ dcs: { kind: 'unreachable', since: T0 - 1000, error: 'timeout' } }), restart())),
      /etcd is unreachable/,
    );
  });

  test('a shutting-down agent refuses', () => {
    refused(decide(with_(underLeader({ shuttingDown: true }), restart())), /shutting down/);
  });

  test('a leader with a switchover to do refuses the restart and does the switchover', () => {
    const inp = with_(asLeader({ viewSpec: { failover: { leader: SELF, member: 'n2' } } }), restart());
    const first = decide(inp);
    assert.deepEqual(kinds(first), ['askPeers'], 'the peer question carries no answer yet');
    assert.equal(first.answer, undefined);
    const second = decide({
      ...inp,
      peers: {
        answers: {
          n2: {
            kind: 'answered',
            role: 'replica',
            state: 'running',
            walPosition: 0x5000000,
            timeline: 1,
            nofailover: false,
            failoverPriority: 1,
          },
        },
      },
    });
    refused(second, /has to demote first/);
    assert.deepEqual(kinds(second), ['updateLock', 'demote', 'releaseLock']);
  });

  test('a paused cluster still restarts on request (the operator asked)', () => {
    assert.deepEqual(kinds(decide(with_(asLeader({ config: config({ pause: true }) }), restart()))), [
      'updateLock',
      'restart',
    ]);
  });
});

describe('reinitialize requests', () => {
  test('a replica re-clones from the leader', () => {
    const d = decide(with_(underLeader(), reinit));
    assert.deepEqual(d.actions[0], { kind: 'reinitialize', from: 'n2' });
    assert.deepEqual(d.answer, { kind: 'accepted', message: 'reinitialize started' });
  });

  test('a running member tagged clonefrom is preferred to the leader', () => {
    const members = [member('n1'), leaderMember('n2'), member('n3', { tags: { clonefrom: true } })];
    const d = decide(with_(underLeader({ view: view({ leader: 'n2', members }) }), reinit));
    assert.deepEqual(d.actions[0], { kind: 'reinitialize', from: 'n3' });
  });

  test('the leader refuses: I am the leader, can not reinitialize', () => {
    refused(decide(with_(asLeader(), reinit)), /^I am the leader, can not reinitialize$/);
  });

  test('without a leader it refuses: Cluster has no leader, can not reinitialize', () => {
    // The leader race asks the peers first; the answer comes with the final decision.
    assert.equal(decide(with_(input(), reinit)).answer, undefined);
    refused(decide(with_(input({ peers: { answers: {} } }), reinit)), /^Cluster has no leader, can not reinitialize$/);
  });

  test('a leader without a member key gives nothing to clone from', () => {
    const d = decide(
      with_(underLeader({ view: view({ leader: 'n2', members: [member('n1'), member('n3')] }) }), reinit),
    );
    refused(d, /n2 publishes no member key/);
  });

  test('a member without data is cloned as well', () => {
    assert.deepEqual(decide(with_(underLeader({ local: local.noData() }), reinit)).actions[0], {
      kind: 'reinitialize',
      from: 'n2',
    });
  });
});

test('without a request there is no answer', () => {
  assert.equal(decide(asLeader()).answer, undefined);
  assert.equal(decide(underLeader()).answer, undefined);
});
