// summarizeGroup: the `/cluster` JSON of a group's view, and the leader optime lag is measured against.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leaderOptime, summarizeGroup } from '../../../src/dcs/summary.ts';
import type { GroupView, Member, MemberData } from '../../../src/dcs/types.ts';

function member(name: string, data: Partial<MemberData>): Member {
  return {
    name,
    data: {
      conn_url: `postgres://127.0.0.${name.slice(-1)}:5432/postgres`,
      api_url: `http://127.0.0.${name.slice(-1)}:8008/patroni`,
      state: 'running',
      role: 'replica',
      version: '0.1.0',
      ...data,
    },
    modRevision: '1',
    lease: '0',
  };
}

function view(overrides: Partial<GroupView> = {}): GroupView {
  return {
    group: null,
    initialize: '7000000000000000001',
    config: { value: { ttl: 30 }, modRevision: '2' },
    leader: { name: 'node1', modRevision: '3', createRevision: '3', lease: '99' },
    members: [
      member('node3', { xlog_location: 1000, timeline: 2 }),
      member('node1', { role: 'primary', xlog_location: 5000, timeline: 2, tags: { zone: 'a' } }),
      member('node2', { xlog_location: 4000, timeline: 2 }),
    ],
    sync: null,
    failover: null,
    history: null,
    status: { optime: 6000 },
    failsafe: null,
    ...overrides,
  };
}

test('members are sorted by name with the leader marked and host/port from conn_url', () => {
  const summary = summarizeGroup(view());
  assert.deepEqual(
    summary.members.map((m) => [m.name, m.role, m.host, m.port]),
    [
      ['node1', 'leader', '127.0.0.1', 5432],
      ['node2', 'replica', '127.0.0.2', 5432],
      ['node3', 'replica', '127.0.0.3', 5432],
    ],
  );
  assert.deepEqual(summary.members[0]!.tags, { zone: 'a' });
  assert.equal(summary.members[0]!.timeline, 2);
});

test('replica lag is measured in bytes against the status optime and the leader has none', () => {
  const summary = summarizeGroup(view());
  assert.deepEqual(
    summary.members.map((m) => m.lag),
    [undefined, 2000, 5000],
  );
  assert.equal('lag' in summary.members[0]!, false);
});

test('without a status key lag is measured against the leader member xlog_location', () => {
  assert.equal(leaderOptime(view({ status: null })), 5000);
  assert.deepEqual(
    summarizeGroup(view({ status: null })).members.map((m) => m.lag),
    [undefined, 1000, 4000],
  );
});

test('a replica that publishes no position has unknown lag and one ahead of the optime has 0', () => {
  const v = view({
    members: [member('node1', { role: 'primary' }), member('node2', {}), member('node3', { xlog_location: 9000 })],
  });
  assert.deepEqual(
    summarizeGroup(v).members.map((m) => m.lag),
    [undefined, 'unknown', 0],
  );
});

test('members listed in the sync key are sync_standby', () => {
  const v = view({ sync: { value: { leader: 'node1', sync_standby: 'node3' }, modRevision: '5' } });
  assert.deepEqual(
    summarizeGroup(v).members.map((m) => m.role),
    ['leader', 'replica', 'sync_standby'],
  );
});

test('without a leader key every member is a replica with lag against the status optime', () => {
  const summary = summarizeGroup(view({ leader: null }));
  assert.deepEqual(
    summary.members.map((m) => [m.role, m.lag]),
    [
      ['replica', 1000],
      ['replica', 2000],
      ['replica', 5000],
    ],
  );
});

test('pause and a scheduled switchover are reported', () => {
  const summary = summarizeGroup(
    view({
      config: { value: { pause: true }, modRevision: '2' },
      failover: {
        value: { leader: 'node1', member: 'node2', scheduled_at: '2030-01-01T00:00:00+00:00' },
        modRevision: '6',
      },
    }),
  );
  assert.equal(summary.pause, true);
  assert.deepEqual(summary.scheduled_switchover, { at: '2030-01-01T00:00:00+00:00', from: 'node1', to: 'node2' });
});

test('an immediate failover request is not a scheduled switchover', () => {
  const summary = summarizeGroup(view({ failover: { value: { leader: 'node1', member: 'node2' }, modRevision: '6' } }));
  assert.equal(summary.scheduled_switchover, undefined);
  assert.equal(summary.pause, undefined);
});

test('an IPv6 conn_url yields the bare address and a missing port defaults to 5432', () => {
  const v = view({ members: [member('node1', { conn_url: 'postgres://[::1]/postgres' })] });
  assert.deepEqual([summarizeGroup(v).members[0]!.host, summarizeGroup(v).members[0]!.port], ['::1', 5432]);
});

test('a member whose conn_url is empty or not a postgres:// URL is listed without host and port', () => {
  for (const conn_url of ['', 'not a url', 'http://10.0.0.1:8008/patroni']) {
    const listed = summarizeGroup(view({ members: [member('node1', { conn_url })] })).members[0]!;
    assert.equal('host' in listed || 'port' in listed, false, conn_url);
  }
});
