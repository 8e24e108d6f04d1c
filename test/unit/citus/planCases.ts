// The planMetadata scenario table (one line per transaction), shared by the unit test (simulated
// metadata) and the integration test that runs the same plans against the Citus stand-in.
import { desiredTopology } from '../../../src/citus/desired.ts';
import type { MetadataPlan } from '../../../src/citus/plan.ts';
import { SWAP_SUFFIX } from '../../../src/citus/planRows.ts';
import type {
  DesiredGroup,
  DesiredNode,
  DesiredTopology,
  NodeRole,
  PgDistNodeRow,
  PoolinfoRow,
  Statement,
} from '../../../src/citus/types.ts';
import type { ClusterView, GroupView, Member } from '../../../src/dcs/types.ts';
import { effectOf } from './simulate.ts';

// ---- builders ------------------------------------------------------------------------------

export const node = (member: string, host: string, port = 5432, poolinfo: string | null = null): DesiredNode => ({
  member,
  host,
  port,
  poolinfo,
});

/** A group whose primary is `primary`, or kept when given a reason string. */
export const group = (g: number, primary: DesiredNode | string, secondaries: DesiredNode[] = []): DesiredGroup => ({
  group: g,
  primary: typeof primary === 'string' ? { kind: 'keep', reason: primary } : { kind: 'node', node: primary },
  secondaries,
});

export const topo = (...groups: DesiredGroup[]): DesiredTopology => ({ groups, ignored: [] });

export const row = (
  nodeid: number,
  groupid: number,
  host: string,
  port = 5432,
  noderole: NodeRole = 'primary',
  nodecluster = 'default',
): PgDistNodeRow => ({
  nodeid,
  groupid,
  nodename: host,
  nodeport: port,
  noderack: 'default',
  hasmetadata: noderole === 'primary',
  isactive: true,
  noderole,
  nodecluster,
  metadatasynced: noderole === 'primary',
  shouldhaveshards: noderole === 'primary' && groupid !== 0,
});
export const sec = (nodeid: number, groupid: number, host: string, port = 5432) =>
  row(nodeid, groupid, host, port, 'secondary');
export const pool = (nodeid: number, poolinfo: string): PoolinfoRow => ({ nodeid, poolinfo });

/** One line per transaction of a plan: its kind, group and statements. */
export function describePlan(plan: MetadataPlan): string[] {
  return [...plan.local, ...plan.membership].map(
    (c) => `${c.kind}${c.group === null ? '' : ` g${c.group}`}: ${c.statements.map(describeStatement).join(' ; ')}`,
  );
}

/** One line per statement, short enough to read a whole plan in a table. */
export function describeStatement(s: Statement): string {
  const e = effectOf(s);
  switch (e.op) {
    case 'add':
      return `add ${e.host}:${e.port} g${e.group} ${e.role}`;
    case 'update':
      return `update #${e.nodeid} ${e.host}:${e.port}`;
    case 'remove':
      return `remove ${e.host}:${e.port}`;
    case 'pool-insert':
      return `pool+ #${e.nodeid} ${e.poolinfo}`;
    case 'pool-insert-by-address':
      return `pool+ ${e.host}:${e.port} ${e.poolinfo}`;
    case 'pool-update':
      return `pool~ #${e.nodeid} ${e.poolinfo}`;
    case 'pool-delete':
      return `pool- #${e.nodeid}`;
  }
}

// A full, settled cluster used by several cases: coordinator c1 (+ replica c2), workers w1a
// (+ w1b) and w2a (+ w2b).
const settledRows = (): PgDistNodeRow[] => [
  row(1, 0, 'c1'),
  row(2, 1, 'w1a'),
  row(3, 2, 'w2a'),
  sec(4, 0, 'c2'),
  sec(5, 1, 'w1b'),
  sec(6, 2, 'w2b'),
];
const settledTopology = (): DesiredTopology =>
  topo(
    group(0, node('c1', 'c1'), [node('c2', 'c2')]),
    group(1, node('w1a', 'w1a'), [node('w1b', 'w1b')]),
    group(2, node('w2a', 'w2a'), [node('w2b', 'w2b')]),
  );

// ---- a view for the cases that go through desiredTopology ----------------------------------

/** A member key as an agent writes it (shared by the Citus unit tests). */
export function member(
  name: string,
  host: string,
  role: string,
  state = 'running',
  extra: Record<string, unknown> = {},
): Member {
  return {
    name,
    data: {
      conn_url: `postgres://${host}:5432/postgres`,
      api_url: `http://${host}:8008/patroni`,
      state,
      role,
      version: '3.0.2',
      ...extra,
    },
    modRevision: '1',
    lease: '7',
  };
}
/** A group of a ClusterView with its leader key (shared by the Citus unit tests). */
export function groupView(g: number, leader: string | null, members: Member[]): GroupView {
  return {
    group: g,
    initialize: '7000000000000000000',
    config: null,
    leader: leader === null ? null : { name: leader, modRevision: '1', createRevision: '1', lease: '7' },
    members,
    sync: null,
    failover: null,
    history: null,
    status: null,
    failsafe: null,
  };
}
const view = (...groups: GroupView[]): ClusterView => ({ revision: '10', groups });

// ---- the table -----------------------------------------------------------------------------

export interface Case {
  name: string;
  desired: DesiredTopology;
  rows: PgDistNodeRow[];
  poolinfo?: PoolinfoRow[];
  expect: string[];
  /** Some desired nodes cannot be placed (address held elsewhere): skip the "reaches desired" check. */
  partial?: boolean;
}

export const cases: Case[] = [
  {
    name: 'empty metadata and an empty topology need nothing',
    desired: topo(),
    rows: [],
    expect: [],
  },
  {
    name: 'empty metadata: the coordinator leader is added as primary of group 0',
    desired: topo(group(0, node('c1', 'c1'))),
    rows: [],
    expect: ['membership g0: add c1:5432 g0 primary'],
  },
  {
    name: 'empty metadata: every primary is added before any secondary, groups in order',
    desired: settledTopology(),
    rows: [],
    expect: [
      'membership g0: add c1:5432 g0 primary',
      'membership g1: add w1a:5432 g1 primary',
      'membership g2: add w2a:5432 g2 primary',
      'membership g0: add c2:5432 g0 secondary',
      'membership g1: add w1b:5432 g1 secondary',
      'membership g2: add w2b:5432 g2 secondary',
    ],
  },
  {
    name: 'metadata equal to the topology gives an empty plan',
    desired: settledTopology(),
    rows: settledRows(),
    expect: [],
  },
  {
    name: 'a new worker group gets its primary and then its secondary',
    desired: topo(...settledTopology().groups, group(3, node('w3a', 'w3a'), [node('w3b', 'w3b')])),
    rows: settledRows(),
    expect: ['membership g3: add w3a:5432 g3 primary', 'membership g3: add w3b:5432 g3 secondary'],
  },
  {
    name: 'worker failover to an unregistered node repoints the primary row, keeping its nodeid',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1c', 'w1c'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a')],
    expect: ['repoint g1: update #2 w1c:5432'],
  },
  {
    name:
      'swap: the primary row parks under a temporary name, the promoted secondary row takes the old address, ' +
      'the primary row is repointed',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1b', 'w1b'), [node('w1a', 'w1a')])),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b')],
    expect: [`repoint g1: update #2 w1a${SWAP_SUFFIX}:5432 ; update #5 w1a:5432 ; update #2 w1b:5432`],
  },
  {
    name:
      'node death: the promoted secondary row takes the dead primary’s address in the repoint (update_node only), ' +
      'and is removed afterwards',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1b', 'w1b'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b')],
    expect: [
      `repoint g1: update #2 w1a${SWAP_SUFFIX}:5432 ; update #5 w1a:5432 ; update #2 w1b:5432`,
      'membership g1: remove w1a:5432',
    ],
  },
  {
    name: 'swap with the old primary back but tagged noloadbalance: swapped, then its row is removed',
    desired: desiredTopology(
      view(
        groupView(0, 'c1', [member('c1', 'c1', 'primary')]),
        groupView(1, 'w1b', [
          member('w1a', 'w1a', 'replica', 'running', { tags: { noloadbalance: true } }),
          member('w1b', 'w1b', 'primary'),
        ]),
      ),
    ),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b')],
    expect: [
      `repoint g1: update #2 w1a${SWAP_SUFFIX}:5432 ; update #5 w1a:5432 ; update #2 w1b:5432`,
      'membership g1: remove w1a:5432',
    ],
  },
  {
    name: 'swap leaves the group’s other secondaries alone',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1b', 'w1b'), [node('w1a', 'w1a'), node('w1c', 'w1c')])),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b'), sec(7, 1, 'w1c')],
    expect: [`repoint g1: update #2 w1a${SWAP_SUFFIX}:5432 ; update #5 w1a:5432 ; update #2 w1b:5432`],
  },
  {
    name: 'the old primary coming back after a repoint is added as secondary',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1c', 'w1c'), [node('w1a', 'w1a')])),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1c')],
    expect: ['membership g1: add w1a:5432 g1 secondary'],
  },
  {
    name: 'failover to an unregistered node with the old primary already a replica: repoint, then add it',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1c', 'w1c'), [node('w1a', 'w1a')])),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a')],
    expect: ['repoint g1: update #2 w1c:5432', 'membership g1: add w1a:5432 g1 secondary'],
  },
  {
    name: 'a replica joining is added as secondary',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1a', 'w1a'), [node('w1b', 'w1b'), node('w1c', 'w1c')])),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b')],
    expect: ['membership g1: add w1c:5432 g1 secondary'],
  },
  {
    name: 'a replica leaving is removed',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1a', 'w1a'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b')],
    expect: ['membership g1: remove w1b:5432'],
  },
  {
    name: 'two replicas leave and one joins: removals before the addition',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1a', 'w1a'), [node('w1d', 'w1d')])),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b'), sec(7, 1, 'w1c')],
    expect: [
      'membership g1: remove w1b:5432',
      'membership g1: remove w1c:5432',
      'membership g1: add w1d:5432 g1 secondary',
    ],
  },
  {
    name: 'a noloadbalance replica is not registered, and its registered row is removed',
    desired: desiredTopology(
      view(
        groupView(0, 'c1', [member('c1', 'c1', 'primary')]),
        groupView(1, 'w1a', [
          member('w1a', 'w1a', 'primary'),
          member('w1b', 'w1b', 'replica', 'running', { tags: { noloadbalance: true } }),
          member('w1c', 'w1c', 'replica', 'running', { tags: { noloadbalance: true } }),
        ]),
      ),
    ),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b')],
    expect: ['membership g1: remove w1b:5432'],
  },
  {
    name: 'a worker whose leader is not running as primary keeps its row; its replicas are still managed',
    desired: topo(group(0, node('c1', 'c1')), group(1, 'leader w1b is starting as replica', [node('w1c', 'w1c')])),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b')],
    expect: ['membership g1: remove w1b:5432', 'membership g1: add w1c:5432 g1 secondary'],
  },
  {
    name: 'a worker group gone from etcd keeps its primary row and loses its secondaries',
    desired: topo(group(0, node('c1', 'c1'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b')],
    expect: ['membership g1: remove w1b:5432'],
  },
  {
    name: 'a demoted old primary listed as replica while the new leader is not primary yet: nothing moves',
    desired: topo(
      group(0, node('c1', 'c1')),
      group(1, 'leader w1b is running as replica', [node('w1a', 'w1a'), node('w1b', 'w1b')]),
    ),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b')],
    expect: [],
    partial: true,
  },
  {
    name: 'a worker group without a primary row and without a running leader gets no secondaries',
    desired: topo(group(0, node('c1', 'c1')), group(1, 'no leader', [node('w1b', 'w1b')])),
    rows: [row(1, 0, 'c1')],
    expect: [],
    partial: true,
  },
  {
    name: 'coordinator failover repoints group 0 with citus_update_node (swap with its secondary)',
    desired: topo(group(0, node('c2', 'c2'), [node('c1', 'c1')]), group(1, node('w1a', 'w1a'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(4, 0, 'c2')],
    expect: [`repoint g0: update #1 c1${SWAP_SUFFIX}:5432 ; update #4 c1:5432 ; update #1 c2:5432`],
  },
  {
    name: 'coordinator failover with the old coordinator gone: swapped, then the dead node’s row is removed',
    desired: topo(group(0, node('c2', 'c2')), group(1, node('w1a', 'w1a'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(4, 0, 'c2')],
    expect: [
      `repoint g0: update #1 c1${SWAP_SUFFIX}:5432 ; update #4 c1:5432 ; update #1 c2:5432`,
      'membership g0: remove c1:5432',
    ],
  },
  {
    name: 'a missing coordinator row is added with groupid 0 before the secondaries',
    desired: topo(group(0, node('c1', 'c1'), [node('c2', 'c2')]), group(1, node('w1a', 'w1a'))),
    rows: [row(2, 1, 'w1a')],
    expect: ['membership g0: add c1:5432 g0 primary', 'membership g0: add c2:5432 g0 secondary'],
  },
  {
    name: 'a coordinator without a known leader and without a row: nothing is added, not even its replicas',
    desired: topo(group(0, 'no leader', [node('c2', 'c2')]), group(1, node('w1a', 'w1a'))),
    rows: [row(2, 1, 'w1a')],
    expect: [],
    partial: true,
  },
  {
    name: 'rows of another nodecluster and unavailable rows are left alone, and their addresses are not taken',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1a', 'w1a'), [node('w1b', 'w1b'), node('w1c', 'w1c')])),
    rows: [
      row(1, 0, 'c1'),
      row(2, 1, 'w1a'),
      row(8, 1, 'w1b', 5432, 'secondary', 'analytics'),
      row(9, 1, 'w1x', 5432, 'unavailable'),
      row(10, 2, 'w2z', 5432, 'secondary', 'analytics'),
    ],
    expect: ['membership g1: add w1c:5432 g1 secondary'],
    partial: true,
  },
  {
    name: 'failovers in two groups at once are repointed in group order',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1b', 'w1b')), group(2, node('w2b', 'w2b'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), row(3, 2, 'w2a')],
    expect: ['repoint g1: update #2 w1b:5432', 'repoint g2: update #3 w2b:5432'],
  },
  {
    name: 'order: one repoint per group with its poolinfo, then removals, primary additions, secondary additions',
    desired: topo(
      group(0, node('c1', 'c1')),
      group(1, node('w1b', 'w1b', 5432, 'host=w1b port=6432'), [node('w1a', 'w1a')]),
      group(2, node('w2c', 'w2c')),
      group(3, node('w3a', 'w3a'), [node('w3b', 'w3b', 5432, 'host=w3b port=6432')]),
    ),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), row(3, 2, 'w2a'), sec(5, 1, 'w1b'), sec(6, 2, 'w2c'), sec(7, 2, 'w2b')],
    expect: [
      `repoint g1: update #2 w1a${SWAP_SUFFIX}:5432 ; update #5 w1a:5432 ; update #2 w1b:5432 ; ` +
        'pool+ #2 host=w1b port=6432',
      `repoint g2: update #3 w2a${SWAP_SUFFIX}:5432 ; update #6 w2a:5432 ; update #3 w2c:5432`,
      'membership g2: remove w2a:5432',
      'membership g2: remove w2b:5432',
      'membership g3: add w3a:5432 g3 primary',
      'membership g3: add w3b:5432 g3 secondary ; pool+ w3b:5432 host=w3b port=6432',
    ],
  },
  {
    name: 'poolinfo: a node that starts advertising a pooler gets a row',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1a', 'w1a', 5432, 'host=w1a port=6432'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a')],
    expect: ['poolinfo: pool+ #2 host=w1a port=6432'],
  },
  {
    name: 'poolinfo: a changed pooler address is updated',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1a', 'w1a', 5432, 'host=w1a port=6433'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a')],
    poolinfo: [pool(2, 'host=w1a port=6432')],
    expect: ['poolinfo: pool~ #2 host=w1a port=6433'],
  },
  {
    name: 'poolinfo: a node that stops advertising a pooler loses its row',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1a', 'w1a'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a')],
    poolinfo: [pool(2, 'host=w1a port=6432')],
    expect: ['poolinfo: pool- #2'],
  },
  {
    name: 'poolinfo: equal rows need nothing',
    desired: topo(
      group(0, node('c1', 'c1', 5432, 'host=c1 port=6432')),
      group(1, node('w1a', 'w1a', 5432, 'host=w1a port=6432')),
    ),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a')],
    poolinfo: [pool(1, 'host=c1 port=6432'), pool(2, 'host=w1a port=6432')],
    expect: [],
  },
  {
    name: 'poolinfo: a node added in the same plan gets its row by address, after the addition',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1a', 'w1a', 5432, 'host=w1a port=6432'))),
    rows: [row(1, 0, 'c1')],
    expect: ['membership g1: add w1a:5432 g1 primary ; pool+ w1a:5432 host=w1a port=6432'],
  },
  {
    name: 'poolinfo follows the nodes through a swap',
    desired: topo(
      group(0, node('c1', 'c1')),
      group(1, node('w1b', 'w1b', 5432, 'host=w1b port=6432'), [node('w1a', 'w1a', 5432, 'host=w1a port=6432')]),
    ),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b')],
    poolinfo: [pool(2, 'host=w1a port=6432'), pool(5, 'host=w1b port=6432')],
    expect: [
      `repoint g1: update #2 w1a${SWAP_SUFFIX}:5432 ; update #5 w1a:5432 ; update #2 w1b:5432 ; ` +
        'pool~ #2 host=w1b port=6432 ; pool~ #5 host=w1a port=6432',
    ],
  },
  {
    name: 'poolinfo of a removed secondary is deleted in the removal’s transaction, before it',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1a', 'w1a'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b')],
    poolinfo: [pool(5, 'host=w1b port=6432')],
    expect: ['membership g1: pool- #5 ; remove w1b:5432'],
  },
  {
    name: 'poolinfo of a primary kept while its leader is missing is left alone',
    desired: topo(group(0, node('c1', 'c1')), group(1, 'no leader')),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a')],
    poolinfo: [pool(2, 'host=w1a port=6432')],
    expect: [],
  },
  {
    name: 'poolinfo rows of nodeids missing from pg_dist_node are deleted; foreign rows’ poolinfo is kept',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w1a', 'w1a'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), row(8, 1, 'r1', 5432, 'secondary', 'analytics')],
    poolinfo: [pool(8, 'host=r1 port=6432'), pool(42, 'host=gone port=6432')],
    expect: ['poolinfo: pool- #42'],
  },
  {
    name: 'a promoted node registered as secondary of another group is parked for the repoint and removed afterwards',
    desired: topo(
      group(0, node('c1', 'c1')),
      group(1, node('w1b', 'w1b')),
      group(2, node('w2a', 'w2a'), [node('w2b', 'w2b')]),
    ),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), row(3, 2, 'w2a'), sec(6, 2, 'w1b'), sec(7, 2, 'w2b')],
    expect: [
      `repoint g1: update #6 w1b${SWAP_SUFFIX}:5432 ; update #2 w1b:5432`,
      `membership g2: remove w1b${SWAP_SUFFIX}:5432`,
    ],
  },
  {
    name: 'two primary rows trading addresses are left alone: a node never changes group',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('b', 'b')), group(2, node('a', 'a'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'a'), row(3, 2, 'b')],
    expect: [],
    partial: true,
  },
  {
    name: 'a chain of repoints runs in dependency order without temporary names',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('b', 'b')), group(2, node('c', 'c'))),
    rows: [row(1, 0, 'c1'), row(2, 1, 'a'), row(3, 2, 'b')],
    expect: ['repoint g2: update #3 c:5432', 'repoint g1: update #2 b:5432'],
  },
  {
    name: 'a repoint onto an address a kept primary holds is given up, the row stays',
    desired: topo(group(0, node('c1', 'c1')), group(1, node('w2a', 'w2a')), group(2, 'no leader')),
    rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), row(3, 2, 'w2a')],
    expect: [],
    partial: true,
  },
  {
    name: 'ports matter: the same host on another port is another node',
    desired: topo(group(0, node('c1', 'h', 5432)), group(1, node('w1', 'h', 5433), [node('w1r', 'h', 5434)])),
    rows: [row(1, 0, 'h', 5432), row(2, 1, 'h', 5435)],
    expect: ['repoint g1: update #2 h:5433', 'membership g1: add h:5434 g1 secondary'],
  },
  {
    name: 'IPv6 addresses are used bare',
    desired: topo(group(0, node('c1', '::1', 5432)), group(1, node('w1', '::1', 5433))),
    rows: [],
    expect: ['membership g0: add ::1:5432 g0 primary', 'membership g1: add ::1:5433 g1 primary'],
  },
];
