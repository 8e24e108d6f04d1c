// What `shardherd switchover/failover` sends where, and the one-line refusals before sending.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planManualRequest } from '../../../src/cli/switchover.ts';
import type { GroupView } from '../../../src/dcs/types.ts';

function view(leader: string | null): GroupView {
  const member = (name: string, role: string, port: number) => ({
    name,
    data: {
      conn_url: 'postgres://h:5432/postgres',
      api_url: `http://127.0.0.1:${port}/patroni`,
      state: 'running',
      role,
      version: '0.1.0',
    },
    modRevision: '1',
    lease: '1',
  });
  return {
    group: 1,
    initialize: '1',
    config: null,
    leader: leader === null ? null : { name: leader, modRevision: '1', createRevision: '1', lease: '1' },
    members: [member('a', 'primary', 8001), member('b', 'replica', 8002)],
    sync: null,
    failover: null,
    history: null,
    status: null,
    failsafe: null,
  };
}

test('a switchover goes to the leader with leader and candidate', () => {
  const plan = planManualRequest('switchover', view('a'), { candidate: 'b' });
  assert.equal(plan.url, 'http://127.0.0.1:8001/switchover');
  assert.deepEqual(plan.body, { leader: 'a', candidate: 'b' });
  assert.equal(plan.summary, 'switch over group 1 from a to b now');
});

test('a scheduled switchover carries scheduled_at; `now` means at once', () => {
  assert.equal(
    planManualRequest('switchover', view('a'), { scheduled: '2030-01-01T00:00:00Z' }).body.scheduled_at,
    '2030-01-01T00:00:00Z',
  );
  assert.equal(planManualRequest('switchover', view('a'), { scheduled: 'now' }).body.scheduled_at, undefined);
});

test('a failover goes to the candidate, also without a leader', () => {
  const plan = planManualRequest('failover', view(null), { candidate: 'b' });
  assert.equal(plan.url, 'http://127.0.0.1:8002/failover');
  assert.deepEqual(plan.body, { candidate: 'b' });
});

test('wrong leader, unknown candidate, the leader as candidate and no leader: each refused in one line', () => {
  assert.throws(
    () => planManualRequest('switchover', view('a'), { leader: 'b' }),
    /^ShardherdError: b is not the leader of group 1 \(a is\)$/,
  );
  assert.throws(() => planManualRequest('switchover', view('a'), { candidate: 'z' }), /z is not a member of group 1/);
  assert.throws(
    () => planManualRequest('switchover', view('a'), { candidate: 'a' }),
    /a is already the leader of group 1/,
  );
  assert.throws(() => planManualRequest('switchover', view(null), {}), /group 1 has no leader: use failover/);
  assert.throws(() => planManualRequest('failover', view('a'), {}), /failover needs --candidate/);
});
