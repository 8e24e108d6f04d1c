import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide } from '../../../src/ha/decide.ts';
import { syncCandidates } from '../../../src/ha/syncStandbys.ts';
import { parseSsn } from '../../../src/ha/syncPlan.ts';
import type { Action, DecideInput, PrimaryReplication } from '../../../src/ha/types.ts';
import { asLeader, config, leaderMember, member, SELF, SYSID } from './fixtures.ts';

const FLUSH = 0x5000000;

function replication(over: Partial<PrimaryReplication> = {}): PrimaryReplication {
  return {
    ssn: '',
    managed: true,
    flushLsn: FLUSH,
    standbys: [
      { name: 'n2', state: 'streaming', flushLsn: FLUSH },
      { name: 'n3', state: 'streaming', flushLsn: FLUSH },
    ],
    syncMark: FLUSH,
    ...over,
  };
}

function leader(
  mode: 'on' | 'quorum' | 'off',
  rep: Partial<PrimaryReplication>,
  sync: { sync_standby: string | null; quorum?: number } | null,
  over: Partial<DecideInput['config']> = {},
): DecideInput {
  return asLeader({
    config: config({ synchronous_mode: mode, ...over }),
    local: { kind: 'runningPrimary', systemId: SYSID, timeline: 1, walLsn: FLUSH, replication: replication(rep) },
    viewSpec: sync === null ? {} : { sync: { leader: SELF, ...sync } },
  });
}

const syncActions = (input: DecideInput): Action[] =>
  decide(input).actions.filter((a) => a.kind === 'writeSync' || a.kind === 'setSyncStandbys');

describe("a leader's synchronous standbys", () => {
  test('a new leader writes a key that promises nothing, then names a standby, then the key follows', () => {
    assert.deepEqual(syncActions(leader('on', {}, null)), [
      { kind: 'writeSync', value: { leader: SELF, sync_standby: null } },
    ]);
    const second = decide(leader('on', {}, { sync_standby: null }));
    assert.deepEqual(
      second.actions.filter((a) => a.kind === 'setSyncStandbys'),
      [{ kind: 'setSyncStandbys', value: '1 ("n2")' }],
    );
    assert.equal(second.recheckMs, 500, 'the change is looked at again soon');
    assert.deepEqual(syncActions(leader('on', { ssn: '1 ("n2")' }, { sync_standby: null })), [
      { kind: 'writeSync', value: { leader: SELF, sync_standby: 'n2' } },
    ]);
    const settled = decide(leader('on', { ssn: '1 ("n2")' }, { sync_standby: 'n2' }));
    assert.deepEqual(syncActions(leader('on', { ssn: '1 ("n2")' }, { sync_standby: 'n2' })), []);
    assert.equal(settled.recheckMs, undefined);
  });

  test('the key waits until the standby flushed past the mark recorded after the change', () => {
    const behind = leader(
      'on',
      { ssn: '1 ("n2")', syncMark: FLUSH, standbys: [{ name: 'n2', state: 'streaming', flushLsn: FLUSH - 1 }] },
      { sync_standby: null },
    );
    assert.deepEqual(syncActions(behind), []);
    assert.deepEqual(syncActions(leader('on', { ssn: '1 ("n2")', syncMark: null }, { sync_standby: null })), []);
  });

  test('quorum mode names every standby with ANY k and a quorum of the rest', () => {
    assert.deepEqual(syncActions(leader('quorum', {}, { sync_standby: null, quorum: 0 })), [
      { kind: 'setSyncStandbys', value: 'ANY 1 ("n2","n3")' },
    ]);
    assert.deepEqual(syncActions(leader('quorum', { ssn: 'ANY 1 ("n2","n3")' }, { sync_standby: null, quorum: 0 })), [
      { kind: 'writeSync', value: { leader: SELF, sync_standby: 'n2,n3', quorum: 1 } },
    ]);
  });

  test('after an agent restart the running value is adopted before anything changes', () => {
    assert.deepEqual(syncActions(leader('on', { ssn: '1 ("n2")', managed: false }, { sync_standby: 'n2' })), [
      { kind: 'setSyncStandbys', value: '1 ("n2")' },
    ]);
  });

  test('off: the key goes and the value set by the loop is reset', () => {
    assert.deepEqual(syncActions(leader('off', { ssn: '1 ("n2")' }, { sync_standby: 'n2' })), [
      { kind: 'writeSync', value: null },
      { kind: 'setSyncStandbys', value: null },
    ]);
    assert.deepEqual(syncActions(leader('off', { ssn: 'x', managed: false }, null)), []);
  });

  test('right after its promotion a leader looks again soon for replicas that do not stream from it yet', () => {
    const promoted = (agoMs: number): DecideInput => {
      const input = leader(
        'on',
        { ssn: '1 ("n2")', standbys: [{ name: 'n2', state: 'streaming', flushLsn: FLUSH }] },
        {
          sync_standby: 'n2',
        },
      );
      const at = new Date(input.now - agoMs).toISOString();
      return { ...input, view: { ...input.view, history: { value: [[1, 0, 'x', at, SELF]], modRevision: '9' } } };
    };
    assert.match(decide(promoted(1000)).reason, /waiting for n3 to stream after the promotion/);
    assert.equal(decide(promoted(1000)).recheckMs, 500);
    assert.equal(decide(promoted(60_000)).recheckMs, undefined, 'not beyond ttl after the promotion');
  });

  test('nothing is planned when the replication state could not be read', () => {
    const input = leader('on', {}, null);
    const local = input.local as Extract<DecideInput['local'], { kind: 'runningPrimary' }>;
    delete local.replication;
    assert.deepEqual(syncActions(input), []);
  });
});

describe('syncCandidates', () => {
  const input = (members = [leaderMember(SELF), member('n2'), member('n3'), member('n4')]) =>
    asLeader({ config: config({ synchronous_mode: 'on', maximum_lag_on_syncnode: 100 }), viewSpec: { members } });
  const rep = replication({
    standbys: [
      { name: 'n2', state: 'streaming', flushLsn: FLUSH },
      { name: 'n3', state: 'streaming', flushLsn: FLUSH - 50 },
      { name: 'n4', state: 'streaming', flushLsn: FLUSH - 500 },
      { name: 'n5', state: 'streaming', flushLsn: FLUSH },
      { name: 'n2', state: 'catchup', flushLsn: FLUSH },
    ],
  });

  test('streaming members within maximum_lag_on_syncnode; current synchronous ones first among equals', () => {
    assert.deepEqual(syncCandidates(input(), rep, parseSsn('')!), ['n2', 'n3']);
    assert.deepEqual(syncCandidates(input(), rep, parseSsn('1 (n3)')!), ['n3', 'n2']);
  });

  test('nosync and sync_priority 0 are never candidates; a higher sync_priority goes first', () => {
    const members = [
      leaderMember(SELF),
      member('n2', { tags: { nosync: true } }),
      member('n3', { tags: { sync_priority: 5 } }),
    ];
    assert.deepEqual(syncCandidates(input(members), rep, parseSsn('')!), ['n3']);
    const zero = [leaderMember(SELF), member('n2', { tags: { sync_priority: 0 } }), member('n3')];
    assert.deepEqual(syncCandidates(input(zero), rep, parseSsn('')!), ['n3']);
  });
});
