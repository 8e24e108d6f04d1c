// desiredTopology as a table: etcd's view of all groups in, the nodes pg_dist_node should list out.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { desiredTopology, poolinfoFromProxyUrl } from '../../../src/citus/desired.ts';
import { hostPortFromUrl } from '../../../src/dcs/memberUrl.ts';
import type { DesiredTopology } from '../../../src/citus/types.ts';
import type { ClusterView, GroupView, Member, MemberData } from '../../../src/dcs/types.ts';

function member(name: string, role: string, state = 'running', extra: Partial<MemberData> = {}): Member {
  return {
    name,
    data: {
      conn_url: `postgres://${name}.example:5432/postgres`,
      api_url: `http://${name}.example:8008/patroni`,
      state,
      role,
      version: '3.0.2',
      ...extra,
    },
    modRevision: '5',
    lease: '99',
  };
}

function group(g: number | null, leader: string | null, members: Member[]): GroupView {
  return {
    group: g,
    initialize: '7300000000000000000',
    config: null,
    leader: leader === null ? null : { name: leader, modRevision: '4', createRevision: '4', lease: '99' },
    members,
    sync: null,
    failover: null,
    history: null,
    status: null,
    failsafe: null,
  };
}

const view = (...groups: GroupView[]): ClusterView => ({ revision: '42', groups });

/** `member@host:port` for a node, `keep` for a kept primary; poolinfo appended when present. */
function summary(t: DesiredTopology): Record<number, { primary: string; secondaries: string[] }> {
  const out: Record<number, { primary: string; secondaries: string[] }> = {};
  const show = (n: { member: string; host: string; port: number; poolinfo: string | null }) =>
    `${n.member}@${n.host}:${n.port}${n.poolinfo === null ? '' : ` (${n.poolinfo})`}`;
  for (const g of t.groups) {
    out[g.group] = {
      primary: g.primary.kind === 'node' ? show(g.primary.node) : 'keep',
      secondaries: g.secondaries.map(show),
    };
  }
  return out;
}

interface Case {
  name: string;
  view: ClusterView;
  expect: Record<number, { primary: string; secondaries: string[] }>;
  ignored?: string[];
}

const cases: Case[] = [
  {
    name: 'the coordinator leader is group 0’s primary and its running replica a secondary',
    view: view(group(0, 'c1', [member('c1', 'primary'), member('c2', 'replica')])),
    expect: { 0: { primary: 'c1@c1.example:5432', secondaries: ['c2@c2.example:5432'] } },
  },
  {
    name: 'a worker leader running as primary is its group’s primary',
    view: view(group(1, 'w1a', [member('w1a', 'primary'), member('w1b', 'replica')])),
    expect: { 1: { primary: 'w1a@w1a.example:5432', secondaries: ['w1b@w1b.example:5432'] } },
  },
  {
    name: 'a worker leader still starting keeps the row; its replicas are still listed',
    view: view(group(1, 'w1b', [member('w1a', 'replica'), member('w1b', 'primary', 'starting')])),
    expect: { 1: { primary: 'keep', secondaries: ['w1a@w1a.example:5432'] } },
  },
  {
    name: 'a worker leader that is not yet promoted keeps the row and, running as replica, stays a secondary',
    view: view(group(1, 'w1b', [member('w1a', 'replica', 'stopped'), member('w1b', 'replica')])),
    expect: { 1: { primary: 'keep', secondaries: ['w1b@w1b.example:5432'] } },
  },
  {
    name: 'a group without a leader keeps the row',
    view: view(group(2, null, [member('w2b', 'replica')])),
    expect: { 2: { primary: 'keep', secondaries: ['w2b@w2b.example:5432'] } },
  },
  {
    name: 'a leader key without a member key keeps the row',
    view: view(group(2, 'w2a', [member('w2b', 'replica')])),
    expect: { 2: { primary: 'keep', secondaries: ['w2b@w2b.example:5432'] } },
  },
  {
    name: 'role master (Patroni before 3.0) counts as primary',
    view: view(group(1, 'w1a', [member('w1a', 'master')])),
    expect: { 1: { primary: 'w1a@w1a.example:5432', secondaries: [] } },
  },
  {
    name: 'the coordinator leader is taken even while its member key still says replica, and is not also a secondary',
    view: view(group(0, 'c2', [member('c1', 'replica', 'stopped'), member('c2', 'replica')])),
    expect: { 0: { primary: 'c2@c2.example:5432', secondaries: [] } },
  },
  {
    name: 'only running replicas become secondaries',
    view: view(
      group(1, 'w1a', [
        member('w1a', 'primary'),
        member('w1b', 'replica', 'starting'),
        member('w1c', 'replica', 'creating replica'),
        member('w1d', 'uninitialized', 'stopped'),
        member('w1e', 'replica', 'crashed'),
        member('w1f', 'demoted', 'running'),
        member('w1g', 'replica'),
      ]),
    ),
    expect: { 1: { primary: 'w1a@w1a.example:5432', secondaries: ['w1g@w1g.example:5432'] } },
  },
  {
    name: 'replicas tagged noloadbalance (boolean or string) are not secondaries',
    view: view(
      group(1, 'w1a', [
        member('w1a', 'primary'),
        member('w1b', 'replica', 'running', { tags: { noloadbalance: true } }),
        member('w1c', 'replica', 'running', { tags: { noloadbalance: 'true' } }),
        member('w1d', 'replica', 'running', { tags: { noloadbalance: false, nofailover: true } }),
      ]),
    ),
    expect: { 1: { primary: 'w1a@w1a.example:5432', secondaries: ['w1d@w1d.example:5432'] } },
  },
  {
    name: 'proxy_url becomes the node’s poolinfo',
    view: view(
      group(1, 'w1a', [
        member('w1a', 'primary', 'running', { proxy_url: 'postgres://10.0.0.5:6432/postgres' }),
        member('w1b', 'replica', 'running', { proxy_url: 'postgres://pool-b:6433/citus' }),
        member('w1c', 'replica', 'running', { proxy_url: 'not a url' }),
      ]),
    ),
    expect: {
      1: {
        primary: 'w1a@w1a.example:5432 (host=10.0.0.5 port=6432)',
        secondaries: ['w1b@w1b.example:5432 (host=pool-b port=6433)', 'w1c@w1c.example:5432'],
      },
    },
  },
  {
    name: 'host and port come from conn_url: default port, postgresql scheme, bare IPv6',
    view: view(
      group(1, 'w1a', [
        member('w1a', 'primary', 'running', { conn_url: 'postgres://10.1.0.1/postgres' }),
        member('w1b', 'replica', 'running', { conn_url: 'postgresql://[fd00::2]:6543/postgres' }),
      ]),
    ),
    expect: { 1: { primary: 'w1a@10.1.0.1:5432', secondaries: ['w1b@fd00::2:6543'] } },
  },
  {
    name: 'a member whose conn_url is not a postgres URL is ignored with a reason',
    view: view(
      group(1, 'w1a', [
        member('w1a', 'primary', 'running', { conn_url: 'http://w1a:5432' }),
        member('w1b', 'replica', 'running', { conn_url: 'postgres://w1b:99999/postgres' }),
        member('w1c', 'replica'),
      ]),
    ),
    expect: { 1: { primary: 'keep', secondaries: ['w1c@w1c.example:5432'] } },
    ignored: ['1/w1a', '1/w1b'],
  },
  {
    name: 'groups come out sorted and a group-less (non-Citus) view yields none',
    view: view(
      group(2, 'w2a', [member('w2a', 'primary')]),
      group(null, 'x', [member('x', 'primary')]),
      group(0, 'c1', [member('c1', 'primary')]),
    ),
    expect: {
      0: { primary: 'c1@c1.example:5432', secondaries: [] },
      2: { primary: 'w2a@w2a.example:5432', secondaries: [] },
    },
  },
  {
    name: 'secondaries are sorted by member name',
    view: view(group(1, 'w1a', [member('w1z', 'replica'), member('w1a', 'primary'), member('w1m', 'replica')])),
    expect: { 1: { primary: 'w1a@w1a.example:5432', secondaries: ['w1m@w1m.example:5432', 'w1z@w1z.example:5432'] } },
  },
];

describe('desiredTopology', () => {
  for (const c of cases) {
    test(c.name, () => {
      const t = desiredTopology(c.view);
      assert.deepEqual(summary(t), c.expect);
      assert.deepEqual(
        t.ignored.map((i) => `${i.group}/${i.member}`),
        c.ignored ?? [],
      );
    });
  }

  test('group order in the output is ascending', () => {
    const t = desiredTopology(cases.find((c) => c.name.startsWith('groups come out sorted'))!.view);
    assert.deepEqual(
      t.groups.map((g) => g.group),
      [0, 2],
    );
  });

  test('a kept primary says why', () => {
    const t = desiredTopology(view(group(1, 'w1b', [member('w1b', 'primary', 'starting')]), group(2, null, [])));
    assert.deepEqual(
      t.groups.map((g) => (g.primary.kind === 'keep' ? g.primary.reason : '')),
      ['leader w1b is starting as primary, not running as primary', 'no leader'],
    );
  });

  test('the table has at least 8 cases', () => {
    assert.ok(cases.length >= 8);
  });
});

describe('URL helpers', () => {
  test('hostPortFromUrl accepts postgres URLs only', () => {
    assert.deepEqual(hostPortFromUrl('postgres://db1:5433/postgres'), { host: 'db1', port: 5433 });
    assert.deepEqual(hostPortFromUrl('postgres://user:pw@db1/postgres'), { host: 'db1', port: 5432 });
    assert.equal(hostPortFromUrl('https://db1:5433/'), null);
    assert.equal(hostPortFromUrl('db1:5432'), null);
    assert.equal(hostPortFromUrl(''), null);
  });

  test('poolinfoFromProxyUrl renders libpq keywords and ignores anything else', () => {
    assert.equal(poolinfoFromProxyUrl('postgres://127.0.0.1:6432/postgres'), 'host=127.0.0.1 port=6432');
    assert.equal(poolinfoFromProxyUrl(undefined), null);
    assert.equal(poolinfoFromProxyUrl(6432), null);
    assert.equal(poolinfoFromProxyUrl(''), null);
  });
});
