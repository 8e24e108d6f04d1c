// Table of switchover/failover requests and the answer each gets before anything is written:
// Patroni's codes (400 malformed, 412 not possible now, 422 bad schedule) with a one-line reason.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { citusEventFromBody } from '../../../src/api/controlRoutes.ts';
import {
  candidateStatusFromBody,
  membersToAsk,
  parseSchedule,
  validateManualRequest,
  type CandidateStatus,
  type ManualRequestInput,
} from '../../../src/api/switchoverRequest.ts';
import type { GroupView, MemberData } from '../../../src/dcs/types.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function member(name: string, role: string, extra: Partial<MemberData> = {}) {
  return {
    name,
    data: {
      conn_url: `postgres://h/${name}`,
      api_url: `http://${name}:8008/patroni`,
      state: 'running',
      role,
      version: '0.1.0',
      ...extra,
    },
    modRevision: '1',
    lease: '1',
  };
}

function view(spec: { leader?: string | null; sync?: string } = {}): GroupView {
  const leader = spec.leader === undefined ? 'a' : spec.leader;
  return {
    group: 1,
    initialize: '1',
    config: null,
    leader: leader === null ? null : { name: leader, modRevision: '1', createRevision: '1', lease: '1' },
    members: [member('a', 'primary'), member('b', 'replica'), member('c', 'replica')],
    sync: spec.sync === undefined ? null : { value: { leader: 'a', sync_standby: spec.sync }, modRevision: '1' },
    failover: null,
    history: null,
    status: null,
    failsafe: null,
  };
}

const good: CandidateStatus = {
  kind: 'answered',
  state: 'running',
  role: 'replica',
  nofailover: false,
  streaming: true,
};

function input(over: Partial<ManualRequestInput> & Pick<ManualRequestInput, 'body'>): ManualRequestInput {
  return {
    action: 'switchover',
    view: view(),
    paused: false,
    synchronousMode: false,
    now: NOW,
    statuses: { b: good, c: good },
    ...over,
  };
}

interface Row {
  name: string;
  input: ManualRequestInput;
  status: number;
  message: RegExp;
}

const refusals: Row[] = [
  {
    name: 'a body that is not an object',
    input: input({ body: 'b' }),
    status: 400,
    message: /^the request body must be a JSON object$/,
  },
  {
    name: 'a switchover without a leader',
    input: input({ body: { candidate: 'b' } }),
    status: 400,
    message: /^Switchover could be performed only from a specific leader$/,
  },
  {
    name: 'a failover without a candidate',
    input: input({ action: 'failover', body: { leader: 'a' } }),
    status: 400,
    message: /^Failover could be performed only to a specific candidate$/,
  },
  {
    name: 'a leader that is not a string',
    input: input({ body: { leader: 3 } }),
    status: 400,
    message: /^leader must be a member name/,
  },
  {
    name: 'the wrong leader',
    input: input({ body: { leader: 'b', candidate: 'c' } }),
    status: 412,
    message: /^leader name does not match: b is not the leader \(a is\)$/,
  },
  {
    name: 'an unknown candidate',
    input: input({ body: { leader: 'a', candidate: 'z' } }),
    status: 412,
    message: /^candidate z does not exist in the group$/,
  },
  {
    name: 'the leader as candidate',
    input: input({ body: { leader: 'a', candidate: 'a' } }),
    status: 412,
    message: /^candidate a is already the leader$/,
  },
  {
    name: 'a candidate tagged nofailover',
    input: input({ body: { leader: 'a', candidate: 'b' }, statuses: { b: { ...good, nofailover: true } } }),
    status: 412,
    message: /^switchover is not possible: candidate b is tagged nofailover$/,
  },
  {
    name: 'a candidate that is not running',
    input: input({ body: { leader: 'a', candidate: 'b' }, statuses: { b: { ...good, state: 'starting' } } }),
    status: 412,
    message: /^switchover is not possible: candidate b is not running \(state starting\)$/,
  },
  {
    name: 'a candidate that is not streaming',
    input: input({ body: { leader: 'a', candidate: 'b' }, statuses: { b: { ...good, streaming: false } } }),
    status: 412,
    message: /^switchover is not possible: candidate b is not streaming from the leader$/,
  },
  {
    name: 'an unreachable candidate',
    input: input({
      body: { leader: 'a', candidate: 'b' },
      statuses: { b: { kind: 'unreachable', error: 'ECONNREFUSED' } },
    }),
    status: 412,
    message: /^switchover is not possible: candidate b is not reachable \(ECONNREFUSED\)$/,
  },
  {
    name: 'a candidate outside sync in synchronous mode',
    input: input({ body: { leader: 'a', candidate: 'c' }, synchronousMode: true, view: view({ sync: 'b' }) }),
    status: 412,
    message: /^candidate name does not match with sync_standby: c is not a synchronous standby$/,
  },
  {
    name: 'no candidate named and none healthy',
    input: input({
      body: { leader: 'a' },
      statuses: { b: { ...good, state: 'stopped' }, c: { kind: 'unreachable', error: 'timeout' } },
    }),
    status: 412,
    message: new RegExp(
      '^switchover is not possible: no good candidates have been found ' +
        '\\(candidate b is not running .*; candidate c is not reachable',
    ),
  },
  {
    name: 'a time without a timezone',
    input: input({ body: { leader: 'a', candidate: 'b', scheduled_at: '2026-01-02T10:00:00' } }),
    status: 400,
    message: /^Timezone information is mandatory for the scheduled switchover$/,
  },
  {
    name: 'a time in the past',
    input: input({ body: { leader: 'a', candidate: 'b', scheduled_at: '2025-12-31T23:00:00+00:00' } }),
    status: 422,
    message: /^Cannot schedule switchover in the past$/,
  },
  {
    name: 'a time that does not parse',
    input: input({ body: { leader: 'a', scheduled_at: 'tomorrow' } }),
    status: 422,
    message: /^Unable to parse scheduled timestamp/,
  },
  {
    name: 'a scheduled switchover in maintenance mode',
    input: input({ body: { leader: 'a', scheduled_at: '2026-01-02T10:00:00Z' }, paused: true }),
    status: 400,
    message: /^Can't schedule switchover in the paused state$/,
  },
  {
    name: 'a switchover to any member in maintenance mode',
    input: input({ body: { leader: 'a' }, paused: true }),
    status: 400,
    message: /^Switchover is possible only to a specific candidate in a paused state$/,
  },
];

describe('switchover and failover requests that are refused', () => {
  for (const row of refusals) {
    test(`${row.name}: ${row.status}`, () => {
      const v = validateManualRequest(row.input);
      assert.equal(v.kind, 'refused');
      if (v.kind !== 'refused') return;
      assert.equal(v.status, row.status);
      assert.match(v.message, row.message);
      assert.ok(!v.message.includes('\n'), 'one line');
    });
  }
});

describe('switchover and failover requests that are accepted', () => {
  test('a switchover to a healthy named candidate writes leader and member', () => {
    const v = validateManualRequest(input({ body: { leader: 'a', candidate: 'b' } }));
    assert.deepEqual(v, {
      kind: 'accepted',
      failover: { leader: 'a', member: 'b' },
      leader: 'a',
      candidate: 'b',
      scheduledAt: null,
    });
  });

  test('a switchover without a candidate is accepted while one replica is healthy', () => {
    const v = validateManualRequest(
      input({ body: { leader: 'a' }, statuses: { b: { ...good, state: 'stopped' }, c: good } }),
    );
    assert.equal(v.kind, 'accepted');
    if (v.kind === 'accepted') assert.deepEqual(v.failover, { leader: 'a' });
  });

  test('a failover to a named member is accepted while the group has no leader, streaming or not', () => {
    const v = validateManualRequest(
      input({
        action: 'failover',
        view: view({ leader: null }),
        body: { candidate: 'b' },
        statuses: { b: { ...good, streaming: false } },
      }),
    );
    assert.equal(v.kind, 'accepted');
    if (v.kind === 'accepted') assert.deepEqual(v.failover, { member: 'b' });
  });

  test('`member` is read as the candidate, as Patroni does', () => {
    const v = validateManualRequest(input({ action: 'failover', body: { member: 'c' } }));
    assert.equal(v.kind, 'accepted');
    if (v.kind === 'accepted') assert.equal(v.candidate, 'c');
  });

  test('a scheduled switchover is stored in UTC with an explicit offset and not checked for health yet', () => {
    const v = validateManualRequest(
      input({ body: { leader: 'a', candidate: 'b', scheduled_at: '2026-01-02T10:00:00+02:00' }, statuses: {} }),
    );
    assert.equal(v.kind, 'accepted');
    if (v.kind !== 'accepted') return;
    assert.equal(v.failover.scheduled_at, '2026-01-02T08:00:00.000+00:00');
    assert.equal(v.scheduledAt, Date.parse('2026-01-02T08:00:00Z'));
  });
});

describe('request helpers', () => {
  test('every member but the leader is asked for its status', () => {
    assert.deepEqual(membersToAsk(view()), ['b', 'c']);
  });

  test('a replica status reports streaming only with replication_state streaming', () => {
    assert.deepEqual(
      candidateStatusFromBody({ state: 'running', xlog: { received_location: 1 }, replication_state: 'streaming' }),
      good,
    );
    assert.equal(
      (candidateStatusFromBody({ state: 'running', xlog: { received_location: 1 } }) as { streaming: boolean })
        .streaming,
      false,
    );
    assert.equal(candidateStatusFromBody(null).kind, 'unreachable');
  });

  test('offsets in the short forms are understood', () => {
    const a = parseSchedule('2026-01-02 10:00+0530', 'switchover', NOW);
    const b = parseSchedule('2026-01-02T04:30:00Z', 'switchover', NOW);
    assert.equal(a.kind, 'ok');
    assert.equal(b.kind, 'ok');
    if (a.kind === 'ok' && b.kind === 'ok') assert.equal(a.at, b.at);
  });

  test("Patroni's /citus cooldown in seconds becomes milliseconds; the rest passes unchanged", () => {
    assert.deepEqual(citusEventFromBody({ type: 'before_demote', group: 1, leader: 'x', timeout: 30, cooldown: 10 }), {
      type: 'before_demote',
      group: 1,
      leader: 'x',
      timeout: 30,
      cooldown: 10000,
    });
    assert.equal(citusEventFromBody([1]), null);
  });
});
