// LiveView: watch events applied to the manager's in-memory view read as a fresh range read would.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LiveView, isTopologyEvent } from '../../../src/citus/liveView.ts';
import type { ClusterView, DcsEvent } from '../../../src/dcs/types.ts';

const base: ClusterView = {
  revision: '10',
  groups: [
    {
      group: 1,
      initialize: '1',
      config: null,
      members: [
        {
          name: 'a',
          data: { conn_url: 'postgres://h:1/postgres', api_url: '', state: 'running', role: 'primary', version: '' },
          modRevision: '5',
          lease: '7',
        },
      ],
      leader: { name: 'a', modRevision: '6', createRevision: '6', lease: '7' },
      sync: null,
      failover: null,
      history: null,
      status: null,
      failsafe: null,
    },
  ],
};

const put = (group: number, name: string, value: string, rev: number): DcsEvent => ({
  type: 'put',
  group,
  name,
  value,
  modRevision: String(rev),
});
const del = (group: number, name: string, rev: number): DcsEvent => ({
  type: 'delete',
  group,
  name,
  value: null,
  modRevision: String(rev),
});

test('a member put is parsed like a range read (master reads as primary) and keeps the lease it had', () => {
  const live = new LiveView(base);
  assert.equal(
    live.apply([put(1, 'members/a', '{"role":"master","state":"running","conn_url":"postgres://h:2/x"}', 11)]),
    true,
  );
  const m = live.view.groups[0].members[0];
  assert.equal(m.data.role, 'primary');
  assert.equal(m.data.conn_url, 'postgres://h:2/x');
  assert.equal(m.lease, '7');
  assert.equal(live.revision, '11');
});

test('a leader delete clears the leader and an empty leader value means unlocked', () => {
  const live = new LiveView(base);
  const leader = () => live.view.groups[0].leader;
  live.apply([del(1, 'leader', 11)]);
  assert.equal(leader(), null);
  live.apply([put(1, 'leader', 'a', 12)]);
  assert.equal(leader()?.name, 'a');
  assert.equal(leader()?.createRevision, '12');
  live.apply([put(1, 'leader', '', 13)]);
  assert.equal(leader(), null);
});

test('events of a new group create it, sorted among the others', () => {
  const live = new LiveView(base);
  live.apply([put(0, 'members/c', '{"role":"primary","state":"running"}', 11), put(0, 'leader', 'c', 12)]);
  assert.deepEqual(
    live.view.groups.map((g) => g.group),
    [0, 1],
  );
  assert.equal(live.view.groups[0].leader?.name, 'c');
});

test('events at or below the view revision are skipped, other keys change nothing', () => {
  const live = new LiveView(base);
  assert.equal(live.apply([del(1, 'members/a', 10)]), false);
  assert.equal(live.view.groups[0].members.length, 1);
  assert.equal(live.apply([put(1, 'config', '{}', 11), put(1, 'status', '{"optime":1}', 12)]), false);
  assert.equal(live.revision, '12');
  assert.equal(isTopologyEvent(put(1, 'members/x/y', '{}', 1)), false);
  assert.equal(isTopologyEvent(put(1, 'members/x', '{}', 1)), true);
});

test("a group's citus key is followed: a removal asked for, then the key deleted with the group", () => {
  const live = new LiveView(base);
  const value = '{"removal":{"state":"draining","requested_at":"2030-01-01T00:00:00Z"},"joined":{"job_id":4,"at":"x"}}';
  assert.equal(isTopologyEvent(put(1, 'citus', value, 11)), true);
  assert.equal(live.apply([put(1, 'citus', value, 11)]), true);
  assert.deepEqual(live.view.groups[0].citus, {
    value: { removal: { state: 'draining', requested_at: '2030-01-01T00:00:00Z' }, joined: { job_id: 4, at: 'x' } },
    modRevision: '11',
  });
  assert.equal(live.view.groups[0].leader?.name, 'a', 'the leader is untouched');
  live.apply([del(1, 'citus', 12)]);
  assert.equal(live.view.groups[0].citus, null);
});

test('a citus key of the wrong shape reads as no mark, field by field', () => {
  const live = new LiveView(base);
  live.apply([put(1, 'citus', '{"removal":{"state":"gone"},"joined":{"job_id":"7","at":"t"}}', 11)]);
  assert.deepEqual(live.view.groups[0].citus?.value, { joined: { job_id: null, at: 't' } });
  live.apply([put(1, 'citus', 'not json', 12)]);
  assert.deepEqual(live.view.groups[0].citus?.value, {});
});
