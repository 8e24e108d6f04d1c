// listRows: what `list` and `topology` show for a ClusterView, by patronictl 3.0.2's rules.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listRows, roundHalfEven, type ListRowsOptions } from '../../../src/cli/listRows.ts';
import type { ClusterView, GroupView, Member, MemberData } from '../../../src/dcs/types.ts';

const MB = 1024 * 1024;

function member(name: string, port: number, data: Partial<MemberData> = {}): Member {
  return {
    name,
    data: {
      conn_url: `postgres://127.0.0.1:${port}/postgres`,
      api_url: `http://127.0.0.1:${port + 1000}/patroni`,
      state: data.role === 'primary' ? 'running' : 'streaming',
      role: 'replica',
      version: '0.1.0',
      timeline: 1,
      ...data,
    },
    modRevision: '1',
    lease: '7',
  };
}

function group(
  number: number | null,
  leader: string | null,
  members: Member[],
  extra: Partial<GroupView> = {},
): GroupView {
  return {
    group: number,
    initialize: `730000000000000000${number ?? 9}`,
    config: null,
    leader: leader === null ? null : { name: leader, modRevision: '2', createRevision: '2', lease: '7' },
    members,
    sync: null,
    failover: null,
    history: null,
    status: { optime: 100 * MB },
    failsafe: null,
    ...extra,
  };
}

/** Groups 0..2, each a leader and one replica on its own ports; the group 1 replica lags 2 MB. */
function citusView(): ClusterView {
  return {
    revision: '10',
    groups: [0, 1, 2].map((g) =>
      group(g, `g${g}-a`, [
        member(`g${g}-a`, 5430 + 10 * g, { role: 'primary', xlog_location: 100 * MB }),
        member(`g${g}-b`, 5431 + 10 * g, {
          xlog_location: g === 1 ? 98 * MB : 100 * MB,
          ...(g === 2 ? { tags: { nofailover: true } } : {}),
        }),
      ]),
    ),
  };
}

const CITUS: ListRowsOptions = { scope: 'demo', citus: true, group: null };

test('a Citus cluster lists every group with Group, host:port, role, state, timeline and lag in MB', () => {
  const listing = listRows(citusView(), CITUS);
  assert.equal(listing.title, ' Citus cluster: demo ');
  assert.deepEqual(listing.columns, ['Cluster', 'Group', 'Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB', 'Tags']);
  assert.equal(listing.tableSkip, 1);
  assert.deepEqual(listing.rows, [
    ['demo', 0, 'g0-a', '127.0.0.1:5430', 'Leader', 'running', 1, '', ''],
    ['demo', 0, 'g0-b', '127.0.0.1:5431', 'Replica', 'streaming', 1, 0, ''],
    ['demo', 1, 'g1-a', '127.0.0.1:5440', 'Leader', 'running', 1, '', ''],
    ['demo', 1, 'g1-b', '127.0.0.1:5441', 'Replica', 'streaming', 1, 2, ''],
    ['demo', 2, 'g2-a', '127.0.0.1:5450', 'Leader', 'running', 1, '', ''],
    ['demo', 2, 'g2-b', '127.0.0.1:5451', 'Replica', 'streaming', 1, 0, { nofailover: true }],
  ]);
  assert.deepEqual(listing.footer, []);
});

test('a cluster without citus has no Group column and a plain title', () => {
  const view: ClusterView = {
    revision: '1',
    groups: [
      group(null, 'a', [
        member('a', 5432, { role: 'primary' }),
        member('b', 5432, { conn_url: 'postgres://127.0.0.2:5432/postgres' }),
      ]),
    ],
  };
  const listing = listRows(view, { scope: 'plain', citus: false, group: null });
  assert.equal(listing.title, ' Cluster: plain ');
  assert.deepEqual(listing.columns, ['Cluster', 'Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB']);
  // Default port on distinct hosts: the host alone.
  assert.deepEqual(
    listing.rows.map((r) => r[2]),
    ['127.0.0.1', '127.0.0.2'],
  );
});

test('two members on one host at the default port are told apart by host:port', () => {
  const view: ClusterView = {
    revision: '1',
    groups: [group(null, 'a', [member('a', 5432, { role: 'primary' }), member('b', 5432)])],
  };
  assert.deepEqual(
    listRows(view, { scope: 'p', citus: false, group: null }).rows.map((r) => r[2]),
    ['127.0.0.1:5432', '127.0.0.1:5432'],
  );
});

test('a member listed in the sync key is a Sync Standby', () => {
  const view = citusView();
  view.groups[1].sync = { value: { leader: 'g1-a', sync_standby: 'g1-b' }, modRevision: '3' };
  assert.deepEqual(
    listRows(view, CITUS).rows.map((r) => r[4]),
    ['Leader', 'Replica', 'Leader', 'Sync Standby', 'Leader', 'Replica'],
  );
});

test('lag is rounded to whole MB like Python round(), and unknown without a position', () => {
  const view: ClusterView = {
    revision: '1',
    groups: [
      group(null, 'a', [
        member('a', 5432, { role: 'primary' }),
        member('b', 5433, { xlog_location: 100 * MB - 2.5 * MB }),
        member('c', 5434, { xlog_location: 100 * MB - 3.5 * MB }),
        member('d', 5435, { xlog_location: 100 * MB - 1.4 * MB }),
        member('e', 5436),
      ]),
    ],
  };
  assert.deepEqual(
    listRows(view, { scope: 'p', citus: false, group: null }).rows.map((r) => r[6]),
    ['', 2, 4, 1, 'unknown'],
  );
  assert.deepEqual([0.4, 0.5, 1.5, 2.5, 2.51].map(roundHalfEven), [0, 0, 2, 2, 3]);
});

test('Pending restart and Scheduled restart columns appear only when a member has them, or with extended', () => {
  const view = citusView();
  view.groups[0].members[1].data.pending_restart = true;
  view.groups[1].members[0].data.scheduled_restart = {
    schedule: '2030-01-01T00:00:00+00:00',
    postgres_version: '15.4',
  };
  const listing = listRows(view, CITUS);
  assert.deepEqual(listing.columns.slice(-3), ['Pending restart', 'Scheduled restart', 'Tags']);
  assert.deepEqual(listing.rows[1].slice(-3), ['*', '', '']);
  assert.deepEqual(listing.rows[2].slice(-3), ['', '2030-01-01T00:00:00+00:00 if version < 15.4', '']);

  const plain: ClusterView = { revision: '1', groups: [group(null, 'a', [member('a', 5432, { role: 'primary' })])] };
  assert.deepEqual(listRows(plain, { scope: 'p', citus: false, group: null }).columns.slice(-1), ['Lag in MB']);
  assert.deepEqual(listRows(plain, { scope: 'p', citus: false, group: null, extended: true }).columns.slice(-3), [
    'Pending restart',
    'Scheduled restart',
    'Tags',
  ]);
});

test('a member without an address is listed but does not decide the columns', () => {
  const view = citusView();
  view.groups[2].members[1].data.tags = undefined;
  view.groups[2].members.push(member('g2-c', 0, { conn_url: '', tags: { nofailover: true }, pending_restart: true }));
  const listing = listRows(view, CITUS);
  assert.deepEqual(listing.columns.slice(-1), ['Lag in MB']);
  assert.deepEqual(listing.rows.at(-1), ['demo', 2, 'g2-c', '', 'Replica', 'streaming', 1, 'unknown']);
});

test('--group shows that group only, with its system id in the title and both leading columns out of the table', () => {
  const listing = listRows(citusView(), { ...CITUS, group: 1 });
  assert.equal(listing.title, ' Citus cluster: demo (group: 1, 7300000000000000001) ');
  assert.equal(listing.tableSkip, 2);
  assert.deepEqual(
    listing.rows.map((r) => r[2]),
    ['g1-a', 'g1-b'],
  );
});

test('--group on a group without initialize says uninitialized, an empty one initializing', () => {
  const view = citusView();
  view.groups[1].initialize = '';
  assert.match(listRows(view, { ...CITUS, group: 1 }).title, /\(group: 1, initializing\) $/);
  assert.equal(
    listRows({ revision: '1', groups: [] }, { ...CITUS, group: 7 }).title,
    ' Citus cluster: demo (group: 7, uninitialized) ',
  );
  assert.equal(listRows({ revision: '1', groups: [] }, { ...CITUS, group: 7 }).rows.length, 0);
});

test('--group without citus configured still lists as a Citus cluster', () => {
  const listing = listRows(citusView(), { scope: 'demo', citus: false, group: 2 });
  assert.equal(listing.title, ' Citus cluster: demo (group: 2, 7300000000000000002) ');
  assert.equal(listing.columns[1], 'Group');
});

test('maintenance mode and a scheduled switchover are noted per Citus group', () => {
  const view = citusView();
  view.groups[0].config = { value: { pause: true }, modRevision: '4' };
  view.groups[2].failover = {
    value: { leader: 'g2-a', member: 'g2-b', scheduled_at: '2030-01-02T03:04:05+00:00' },
    modRevision: '5',
  };
  assert.deepEqual(listRows(view, CITUS).footer, [
    'Citus group: 0',
    ' Maintenance mode: on',
    'Citus group: 2',
    ' Switchover scheduled at: 2030-01-02T03:04:05+00:00',
    '                    from: g2-a',
    '                      to: g2-b',
  ]);
  assert.deepEqual(listRows(view, { ...CITUS, group: 0 }).footer, [' Maintenance mode: on']);
});

test('topology puts the leader first and each replica under its replicatefrom, indented per level', () => {
  const view: ClusterView = {
    revision: '1',
    groups: [
      group(null, 'd', [
        member('a', 5432, { tags: { replicatefrom: 'c' } }),
        member('b', 5433, { tags: { replicatefrom: 'nobody' } }),
        member('c', 5434),
        member('d', 5435, { role: 'primary' }),
        member('e', 5436, { tags: { replicatefrom: 'a' } }),
      ]),
    ],
  };
  assert.deepEqual(
    listRows(view, { scope: 'p', citus: false, group: null, topology: true }).rows.map((r) => r[1]),
    ['d', '+ b', '+ c', '  + a', '    + e'],
  );
});

test('topology without a leader shows every replica one level down', () => {
  const view: ClusterView = {
    revision: '1',
    groups: [group(null, null, [member('a', 5432), member('b', 5433, { tags: { replicatefrom: 'a' } })])],
  };
  assert.deepEqual(
    listRows(view, { scope: 'p', citus: false, group: null, topology: true }).rows.map((r) => r[1]),
    ['+ a', '  + b'],
  );
});

test('topology keeps members whose replicatefrom tags form a cycle, under the leader', () => {
  const view: ClusterView = {
    revision: '1',
    groups: [
      group(null, 'l', [
        member('l', 5432, { role: 'primary' }),
        member('x', 5433, { tags: { replicatefrom: 'y' } }),
        member('y', 5434, { tags: { replicatefrom: 'x' } }),
      ]),
    ],
  };
  assert.deepEqual(
    listRows(view, { scope: 'p', citus: false, group: null, topology: true }).rows.map((r) => r[1]),
    ['l', '+ x', '  + y'],
  );
});

/** citusView with poolers published by the group 1 members (one of them not a postgres:// URL). */
function pooledView(): ClusterView {
  const view = citusView();
  view.groups[1].members[0].data.proxy_url = 'postgres://10.0.0.5:6432/citus';
  view.groups[1].members[1].data.proxy_url = 'pool-b:6433';
  return view;
}

test('a published pooler adds no column without extended, so the listing stays patronictl’s', () => {
  for (const topology of [false, true]) {
    const options = { ...CITUS, topology };
    assert.deepEqual(listRows(pooledView(), options), listRows(citusView(), options));
  }
});

test('extended adds Pooler last, host:port from proxy_url, when some member publishes one', () => {
  for (const topology of [false, true]) {
    const listing = listRows(pooledView(), { ...CITUS, extended: true, topology });
    assert.deepEqual(listing.columns.slice(-4), ['Pending restart', 'Scheduled restart', 'Tags', 'Pooler']);
    assert.deepEqual(
      listing.rows.map((r) => [r[2], r.at(-1)]),
      [
        ['g0-a', ''],
        [topology ? '+ g0-b' : 'g0-b', ''],
        ['g1-a', '10.0.0.5:6432'],
        [topology ? '+ g1-b' : 'g1-b', 'pool-b:6433'],
        ['g2-a', ''],
        [topology ? '+ g2-b' : 'g2-b', ''],
      ],
    );
  }
});

test('extended without any published pooler has no Pooler column', () => {
  assert.deepEqual(listRows(citusView(), { ...CITUS, extended: true }).columns.slice(-1), ['Tags']);
  assert.deepEqual(listRows(citusView(), { ...CITUS, extended: true, topology: true }).columns.slice(-1), ['Tags']);
});

test('a pooler published only by a member without an address does not add the column', () => {
  const view = citusView();
  view.groups[2].members.push(member('g2-c', 0, { conn_url: '', proxy_url: 'postgres://10.0.0.9:6432/citus' }));
  assert.deepEqual(listRows(view, { ...CITUS, extended: true }).columns.slice(-1), ['Tags']);
});

test('an IPv6 pooler is shown as the bare address and port, as Host is', () => {
  const view = citusView();
  view.groups[0].members[0].data.proxy_url = 'postgres://[fd00::5]:6432/citus';
  assert.equal(listRows(view, { ...CITUS, extended: true }).rows[0].at(-1), 'fd00::5:6432');
});
