// The pause protocol's admission rules as a table: event and view in, refusal kind out; and the
// HTTP code each kind gets on POST /citus.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pauseStatus } from '../../../src/api/pauseStatus.ts';
import {
  checkEvent,
  checkLeader,
  checkRunningLeader,
  type PauseEvent,
  type PauseRefusal,
} from '../../../src/citus/pauseRules.ts';
import type { ClusterView, Member } from '../../../src/dcs/types.ts';
import { groupView, member as planMember } from './planCases.ts';

const member = (name: string, role: string, state = 'running'): Member => planMember(name, name, role, state);
const group = groupView;
const view: ClusterView = {
  revision: '5',
  groups: [
    group(0, 'c1', [member('c1', 'primary')]),
    group(1, 'w1a', [member('w1a', 'primary'), member('w1b', 'replica')]),
    group(2, 'w2b', [member('w2a', 'replica'), member('w2b', 'replica', 'starting')]),
    group(3, null, [member('w3a', 'replica')]),
  ],
};
const event = (e: Partial<PauseEvent>): PauseEvent => ({
  type: 'before_demote',
  group: 1,
  leader: 'w1a',
  timeout: 30,
  cooldown: 10000,
  ...e,
});
const kind = (a: ReturnType<typeof checkEvent>): PauseRefusal | null => (a === null || a.ok ? null : a.refusal);

describe('pause admission rules', () => {
  const events: Array<[string, PauseEvent, PauseRefusal | null]> = [
    ['a well-formed event of a worker group', event({}), null],
    ['an unknown type', event({ type: 'after_demote' as PauseEvent['type'] }), 'malformed'],
    ['a fractional group', event({ group: 1.5 }), 'malformed'],
    ['an empty leader', event({ leader: '' }), 'malformed'],
    ['a zero timeout', event({ timeout: 0 }), 'malformed'],
    ['a negative cooldown', event({ cooldown: -1 }), 'malformed'],
    ['an infinite timeout', event({ timeout: Number.POSITIVE_INFINITY }), 'malformed'],
    ['the coordinator group', event({ group: 0 }), 'not-a-worker-group'],
    ['a negative group', event({ group: -1 }), 'not-a-worker-group'],
  ];
  for (const [name, e, want] of events) test(`event: ${name}`, () => assert.equal(kind(checkEvent(e)), want));

  const leaders: Array<[string, number, string, PauseRefusal | null, PauseRefusal | null]> = [
    // [case, group, member, checkLeader, checkRunningLeader]
    ['the running primary leader', 1, 'w1a', null, null],
    ['a replica of the group', 1, 'w1b', 'not-the-leader', 'not-the-leader'],
    ['a group etcd does not know', 9, 'w9a', 'unknown-group', 'unknown-group'],
    ['the leader not yet running as primary', 2, 'w2b', null, 'not-running-primary'],
    ['a group without a leader', 3, 'w3a', 'not-the-leader', 'not-the-leader'],
  ];
  for (const [name, g, m, lead, running] of leaders) {
    test(`leader: ${name}`, () => {
      assert.equal(kind(checkLeader(view, g, m)), lead);
      assert.equal(kind(checkRunningLeader(view, g, m)), running);
    });
  }

  test('each refusal names what is wrong in its message', () => {
    const notLeader = checkLeader(view, 1, 'w1b');
    assert.ok(notLeader !== null && !notLeader.ok);
    assert.equal(notLeader.message, 'w1b is not the leader of group 1 (the leader is w1a)');
    const notRunning = checkRunningLeader(view, 2, 'w2b');
    assert.ok(notRunning !== null && !notRunning.ok);
    assert.equal(notRunning.message, 'w2b does not run as primary of group 2 (starting as replica)');
  });

  test(
    'HTTP codes: 200 done, 400 malformed or not a worker group, 404 unknown group, ' +
      '409 wrong sender, 503 otherwise',
    () => {
      const codes: Array<[PauseRefusal, number]> = [
        ['malformed', 400],
        ['not-a-worker-group', 400],
        ['unknown-group', 404],
        ['not-the-leader', 409],
        ['not-running-primary', 409],
        ['unavailable', 503],
        ['failed', 503],
      ];
      for (const [refusal, code] of codes)
        assert.equal(pauseStatus({ ok: false, refusal, message: '' }), code, refusal);
      assert.equal(pauseStatus({ ok: true, message: '' }), 200);
    },
  );
});
