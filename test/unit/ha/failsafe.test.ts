import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide } from '../../../src/ha/decide.ts';
import { FailsafeState } from '../../../src/ha/failsafeState.ts';
import type { DecideInput } from '../../../src/ha/types.ts';
import { asLeader, config, input, leaderMember, member, SELF, T0, view } from './fixtures.ts';

const FAILSAFE = { n1: 'http://h1/patroni', n2: 'http://h2/patroni', n3: 'http://h3/patroni' };

/** A lock holder running as primary whose etcd went away 12 s ago, its lock confirmed 11 s ago. */
function cutOff(over: Partial<DecideInput> = {}, failsafe: Record<string, string> | null = FAILSAFE): DecideInput {
  const base = asLeader({
    config: config({ failsafe_mode: true }),
    dcs: { kind: 'unreachable', since: T0 - 12_000, error: 'timeout' },
    lock: { kind: 'held', confirmedAt: T0 - 11_000 },
    ...over,
  });
  return { ...base, view: { ...base.view, failsafe } };
}

const kinds = (input: DecideInput) => decide(input).actions.map((a) => a.kind);

describe('failsafe mode on a primary without etcd', () => {
  test('it calls every other member listed in the failsafe key', () => {
    const d = decide(cutOff());
    assert.deepEqual(d.actions, [{ kind: 'askFailsafe', members: { n2: FAILSAFE.n2, n3: FAILSAFE.n3 } }]);
  });

  test('every member accepted: it stays primary and counts its lock as confirmed now', () => {
    const d = decide(cutOff({ failsafeAnswers: { n2: true, n3: true } }));
    assert.deepEqual(
      d.actions.map((a) => a.kind),
      ['confirmLockByFailsafe'],
    );
    assert.equal(d.role, 'primary');
  });

  test('one member did not accept: the usual self-fencing applies', () => {
    assert.deepEqual(kinds(cutOff({ failsafeAnswers: { n2: true, n3: false } })), ['demote']);
    const recent = cutOff({ failsafeAnswers: { n2: true }, lock: { kind: 'held', confirmedAt: T0 - 1000 } });
    assert.deepEqual(kinds(recent), ['wait'], 'still within retry_timeout of the last confirmation');
  });

  test('off, or a key that lists nobody else, or does not list this member: no calls', () => {
    assert.deepEqual(kinds({ ...cutOff(), config: config({ failsafe_mode: false }) }), ['demote']);
    assert.deepEqual(kinds(cutOff({}, { n1: FAILSAFE.n1 })), ['demote']);
    assert.deepEqual(kinds(cutOff({}, { n2: FAILSAFE.n2, n3: FAILSAFE.n3 })), ['demote']);
  });

  test('a key not read back yet: the members it is written from are called', () => {
    const members = [
      leaderMember('n1', { api_url: FAILSAFE.n1 }),
      member('n2', { api_url: FAILSAFE.n2 }),
      member('n3', { api_url: FAILSAFE.n3 }),
    ];
    const base = cutOff({}, null);
    const d = decide({ ...base, view: { ...base.view, members } });
    assert.deepEqual(d.actions, [{ kind: 'askFailsafe', members: { n2: FAILSAFE.n2, n3: FAILSAFE.n3 } }]);
  });
});

describe('failsafe mode on a replica and on the leader', () => {
  test('a replica called within ttl does not race for the lock', () => {
    const race = input({ config: config({ failsafe_mode: true }), failsafeLeader: 'n3', view: view({ optime: 0 }) });
    const d = decide(race);
    assert.deepEqual(
      d.actions.map((a) => a.kind),
      ['wait', 'touchMember'],
    );
    assert.match(d.reason, /failsafe mode: n3 keeps its lead/);
  });

  test('the leader keeps the failsafe key listing every member while failsafe mode is on', () => {
    const lead = asLeader({
      config: config({ failsafe_mode: true }),
      view: view({
        leader: SELF,
        members: [leaderMember('n1', { api_url: 'http://h1/patroni' }), member('n2', { api_url: 'http://h2/patroni' })],
      }),
    });
    const write = decide(lead).actions.find((a) => a.kind === 'writeFailsafe');
    assert.deepEqual(write, { kind: 'writeFailsafe', value: { n1: 'http://h1/patroni', n2: 'http://h2/patroni' } });
    const written = { ...lead, view: { ...lead.view, failsafe: { n1: 'http://h1/patroni', n2: 'http://h2/patroni' } } };
    assert.equal(
      decide(written).actions.some((a) => a.kind === 'writeFailsafe'),
      false,
      'nothing to write when it is right',
    );
    const off = { ...written, config: config({ failsafe_mode: false }) };
    assert.deepEqual(
      decide(off).actions.find((a) => a.kind === 'writeFailsafe'),
      { kind: 'writeFailsafe', value: {} },
      'emptied when failsafe mode is switched off',
    );
  });
});

describe('FailsafeState', () => {
  test('a call is accepted only with failsafe mode on and not by another running primary', () => {
    const s = new FailsafeState();
    assert.deepEqual(s.accept('n1', 0, { failsafeMode: false, runsAsOtherPrimary: false }), {
      accepted: false,
      status: 502,
      reason: 'Failsafe mode is not enabled',
    });
    assert.equal(s.accept('n1', 0, { failsafeMode: true, runsAsOtherPrimary: true }).accepted, false);
    assert.equal(s.leaderAt(0, 30), null);
    assert.deepEqual(s.accept('n1', 1000, { failsafeMode: true, runsAsOtherPrimary: false }), { accepted: true });
    assert.equal(s.leaderAt(30_999, 30), 'n1');
    assert.equal(s.leaderAt(31_000, 30), null, 'for ttl only');
  });

  test('active while called or confirmed within ttl', () => {
    const s = new FailsafeState();
    assert.equal(s.activeAt(0, 30), false);
    s.confirmed(100);
    assert.equal(s.activeAt(30_099, 30), true);
    assert.equal(s.activeAt(30_100, 30), false);
  });
});
