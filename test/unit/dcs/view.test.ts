// parseCluster: raw keys of one range read to a ClusterView, tolerant of garbage values.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCluster, parseMemberData, type StoredKey } from '../../../src/dcs/view.ts';

let rev = 10;
function kv(key: string, value: string, lease = '0'): StoredKey {
  rev += 1;
  return { key, value, modRevision: String(rev), createRevision: String(rev), lease };
}

const plain = { scopePrefix: '/service/demo/', citus: false, revision: '99' };
const citus = { scopePrefix: '/service/demo/', citus: true, revision: '99' };

describe('parseCluster without citus', () => {
  test('an empty read gives one empty group with group null', () => {
    const view = parseCluster([], plain);
    assert.equal(view.revision, '99');
    assert.equal(view.groups.length, 1);
    const g = view.groups[0];
    assert.equal(g.group, null);
    assert.equal(g.leader, null);
    assert.deepEqual(g.members, []);
    assert.equal(g.initialize, null);
    assert.equal(g.config, null);
    assert.equal(g.status, null);
  });

  test('leader, members and every cluster key are read with their revisions and leases', () => {
    const leader = kv('/service/demo/leader', 'b', '77');
    const view = parseCluster(
      [
        kv('/service/demo/initialize', '7300000000000000001'),
        kv('/service/demo/config', '{"ttl":30,"loop_wait":10}'),
        leader,
        kv(
          '/service/demo/members/b',
          '{"conn_url":"postgres://b:5432/postgres","api_url":"http://b:8008/patroni",' +
            '"state":"running","role":"primary","version":"3.0.2","timeline":2,"xlog_location":100}',
          '77',
        ),
        kv(
          '/service/demo/members/a',
          '{"conn_url":"postgres://a:5432/postgres","api_url":"http://a:8008/patroni",' +
            '"state":"streaming","role":"replica","version":"3.0.2"}',
          '78',
        ),
        kv('/service/demo/sync', '{"leader":"b","sync_standby":"a"}'),
        kv('/service/demo/failover', '{"leader":"b","member":"a","scheduled_at":"2030-01-01T00:00:00+00:00"}'),
        kv('/service/demo/history', '[[1,25165984,"no recovery target specified","2024-01-01T00:00:00+00:00","b"]]'),
        kv('/service/demo/status', '{"optime":67108960,"slots":{"a":67108960}}'),
        kv('/service/demo/failsafe', '{"a":"http://a:8008/patroni","b":"http://b:8008/patroni"}'),
      ],
      plain,
    );
    const g = view.groups[0];
    assert.deepEqual(g.leader, {
      name: 'b',
      modRevision: leader.modRevision,
      createRevision: leader.createRevision,
      lease: '77',
    });
    assert.deepEqual(
      g.members.map((m) => [m.name, m.data.role, m.data.state, m.lease]),
      [
        ['a', 'replica', 'streaming', '78'],
        ['b', 'primary', 'running', '77'],
      ],
    );
    assert.equal(g.members[1].data.timeline, 2);
    assert.equal(g.initialize, '7300000000000000001');
    assert.deepEqual(g.config?.value, { ttl: 30, loop_wait: 10 });
    assert.deepEqual(g.sync?.value, { leader: 'b', sync_standby: 'a' });
    assert.deepEqual(g.failover?.value, { leader: 'b', member: 'a', scheduled_at: '2030-01-01T00:00:00+00:00' });
    assert.deepEqual(g.history?.value, [
      [1, 25165984, 'no recovery target specified', '2024-01-01T00:00:00+00:00', 'b'],
    ]);
    assert.deepEqual(g.status, { optime: 67108960, slots: { a: 67108960 } });
    assert.deepEqual(g.failsafe, { a: 'http://a:8008/patroni', b: 'http://b:8008/patroni' });
  });

  test('keys of another scope with the same name prefix are ignored', () => {
    const view = parseCluster([kv('/service/demo2/leader', 'x')], plain);
    assert.equal(view.groups[0].leader, null);
  });

  test('the legacy optime/leader key is used when status is absent', () => {
    const view = parseCluster([kv('/service/demo/optime/leader', '12345')], plain);
    assert.deepEqual(view.groups[0].status, { optime: 12345 });
  });

  test('status wins over the legacy optime/leader key', () => {
    const view = parseCluster(
      [kv('/service/demo/optime/leader', '1'), kv('/service/demo/status', '{"optime":2}')],
      plain,
    );
    assert.deepEqual(view.groups[0].status, { optime: 2 });
  });

  test('an empty leader value means no leader', () => {
    assert.equal(parseCluster([kv('/service/demo/leader', '')], plain).groups[0].leader, null);
  });

  test('an empty initialize value is kept: bootstrap in progress', () => {
    assert.equal(parseCluster([kv('/service/demo/initialize', '')], plain).groups[0].initialize, '');
  });

  test('keys nested below members/<name>/ are not members', () => {
    assert.deepEqual(parseCluster([kv('/service/demo/members/a/x', '{}')], plain).groups[0].members, []);
  });
});

describe('parseCluster with citus', () => {
  test('keys are grouped by their group level and groups sorted by number', () => {
    const view = parseCluster(
      [
        kv('/service/demo/2/leader', 'w2'),
        kv('/service/demo/0/leader', 'c'),
        kv('/service/demo/1/leader', 'w1'),
        kv('/service/demo/1/members/w1', '{"role":"primary","state":"running"}'),
      ],
      citus,
    );
    assert.deepEqual(
      view.groups.map((g) => [g.group, g.leader?.name]),
      [
        [0, 'c'],
        [1, 'w1'],
        [2, 'w2'],
      ],
    );
    assert.equal(view.groups[1].members[0].name, 'w1');
  });

  test('keys without a valid group level are ignored', () => {
    const view = parseCluster(
      [kv('/service/demo/leader', 'x'), kv('/service/demo/01/leader', 'y'), kv('/service/demo/abc/leader', 'z')],
      citus,
    );
    assert.deepEqual(view.groups, []);
  });

  test('ensureGroups adds empty groups so a reader always finds its own', () => {
    const view = parseCluster([kv('/service/demo/2/leader', 'w2')], { ...citus, ensureGroups: [0] });
    assert.deepEqual(
      view.groups.map((g) => g.group),
      [0, 2],
    );
    assert.equal(view.groups[0].leader, null);
  });
});

describe('garbage values', () => {
  test('a member value that is not JSON reads as state unknown', () => {
    const m = parseCluster([kv('/service/demo/members/a', '{not json')], plain).groups[0].members[0];
    assert.equal(m.name, 'a');
    assert.equal(m.data.state, 'unknown');
    assert.equal(m.data.role, 'unknown');
    assert.equal(m.data.conn_url, '');
  });

  test('a member value that is JSON but not an object reads as state unknown', () => {
    for (const text of ['[]', '42', 'null', '"running"']) {
      assert.equal(parseMemberData(text).state, 'unknown', text);
    }
  });

  test('role master is read as primary', () => {
    assert.equal(parseMemberData('{"role":"master","state":"running"}').role, 'primary');
  });

  test('typed optional fields with a wrong type are dropped, unknown fields kept', () => {
    const d = parseMemberData(
      '{"state":"running","timeline":"2","xlog_location":5,"tags":"x","pending_restart":true,"extra":[1]}',
    );
    assert.equal(d.timeline, undefined);
    assert.equal(d.xlog_location, 5);
    assert.equal(d.tags, undefined);
    assert.equal(d.pending_restart, true);
    assert.deepEqual(d.extra, [1]);
  });

  test('the oldest member format (connection URL with application_name) is understood', () => {
    const d = parseMemberData('postgres://u:p@h:5432/postgres?application_name=http://h:8008/patroni');
    assert.equal(d.conn_url, 'postgres://u:p@h:5432/postgres');
    assert.equal(d.api_url, 'http://h:8008/patroni');
    assert.equal(d.state, 'unknown');
  });

  test('garbage in config, sync, failover, history, status and failsafe degrades to empty values', () => {
    const g = parseCluster(
      [
        kv('/service/demo/config', '{'),
        kv('/service/demo/sync', '[]'),
        kv('/service/demo/failover', 'null'),
        kv('/service/demo/history', '{"a":1}'),
        kv('/service/demo/status', 'x'),
        kv('/service/demo/failsafe', '"x"'),
      ],
      plain,
    ).groups[0];
    assert.deepEqual(g.config?.value, {});
    assert.deepEqual(g.sync?.value, { leader: null, sync_standby: null });
    assert.deepEqual(g.failover?.value, {});
    assert.deepEqual(g.history?.value, []);
    assert.equal(g.status, null);
    assert.equal(g.failsafe, null);
  });

  test('the legacy failover form leader:candidate is understood', () => {
    const g = parseCluster([kv('/service/demo/failover', 'a: b')], plain).groups[0];
    assert.deepEqual(g.failover?.value, { leader: 'a', member: 'b' });
  });

  test('history lines without numeric timeline and LSN are skipped', () => {
    const g = parseCluster([kv('/service/demo/history', '[[1,100,"r"],["x",1,"r"],[2],3,[2,"200",7]]')], plain)
      .groups[0];
    assert.deepEqual(g.history?.value, [
      [1, 100, 'r'],
      [2, 200, ''],
    ]);
  });

  test('status with a broken optime keeps the slots and reads optime 0', () => {
    const g = parseCluster(
      [kv('/service/demo/status', '{"optime":"x","slots":{"s":5,"bad":"y"},"retain_slots":["a",1]}')],
      plain,
    ).groups[0];
    assert.deepEqual(g.status, { optime: 0, slots: { s: 5 }, retain_slots: ['a'] });
  });
});
