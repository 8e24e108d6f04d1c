// remove-group's decisions: each refusal with its reason, and the progress line for every state.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CitusStatusBody } from '../../../src/api/controlRoutes.ts';
import type { NodeView } from '../../../src/citus/metadataView.ts';
import { progressLine, removeGroupRefusal } from '../../../src/cli/removeGroup.ts';
import { scaleFooter } from '../../../src/cli/scaleFooter.ts';
import type { CitusMark, ClusterView, GroupView } from '../../../src/dcs/types.ts';
import { groupView, member } from '../citus/planCases.ts';

function node(nodeid: number, groupid: number, role: 'primary' | 'secondary', shards = groupid > 0): NodeView {
  return {
    nodeid,
    groupid,
    nodename: `10.0.${groupid}.${role === 'primary' ? 1 : 2}`,
    nodeport: 5432,
    noderole: role,
    hasmetadata: role === 'primary',
    isactive: true,
    metadatasynced: role === 'primary',
    shouldhaveshards: shards,
  };
}

function status(nodes: NodeView[], placements: Record<string, number>, extra: Partial<CitusStatusBody['scale']> = {}) {
  return {
    pauses: {} as CitusStatusBody['pauses'],
    membership_waiting: null,
    metadata: { read_at: '2030-01-01T00:00:00.000Z', pg_dist_node: nodes, pg_dist_poolinfo: [] },
    scale: {
      rebalance: null,
      placements,
      takers: nodes
        .filter((n) => n.groupid > 0 && n.noderole === 'primary' && n.shouldhaveshards)
        .map((n) => n.groupid),
      removals: [],
      waiting: null,
      lastError: null,
      ...extra,
    },
  } satisfies CitusStatusBody;
}

const worker = (g: number, leaderState = 'running', mark?: CitusMark): GroupView => ({
  ...groupView(g, `w${g}a`, [
    member(`w${g}a`, `10.0.${g}.1`, 'primary', leaderState),
    member(`w${g}b`, `10.0.${g}.2`, 'replica'),
  ]),
  citus: mark === undefined ? null : { value: mark, modRevision: '9' },
});

function cluster(...groups: GroupView[]): ClusterView {
  return { revision: '10', groups: [groupView(0, 'c', [member('c', '10.0.0.1', 'primary')]), ...groups] };
}

const NODES = [
  node(1, 0, 'primary'),
  node(2, 1, 'primary'),
  node(3, 1, 'secondary'),
  node(4, 2, 'primary'),
  node(5, 2, 'secondary'),
];
const HOLDING = status(NODES, { '1': 16, '2': 16 });

const REFUSALS: Array<{
  name: string;
  cluster: ClusterView;
  group: number;
  status: CitusStatusBody;
  want: RegExp | null;
}> = [
  {
    name: 'a worker group with data and a sibling',
    cluster: cluster(worker(1), worker(2)),
    group: 2,
    status: HOLDING,
    want: null,
  },
  { name: 'group 0', cluster: cluster(worker(1), worker(2)), group: 0, status: HOLDING, want: /coordinator group/ },
  {
    name: 'an unknown group',
    cluster: cluster(worker(1), worker(2)),
    group: 7,
    status: HOLDING,
    want: /group 7 is unknown/,
  },
  {
    name: 'the last worker group',
    cluster: cluster(worker(1)),
    group: 1,
    status: status(NODES.slice(0, 3), { '1': 32 }),
    want: /last worker group/,
  },
  {
    name: 'the last worker group, the other being removed already',
    cluster: cluster(worker(1), worker(2, 'running', { removal: { state: 'draining', requested_at: 't' } })),
    group: 1,
    status: HOLDING,
    want: /last worker group/,
  },
  {
    name: 'a drain with nowhere to go (shouldhaveshards false on the other worker)',
    cluster: cluster(worker(1), worker(2)),
    group: 2,
    status: status([node(1, 0, 'primary'), node(2, 1, 'primary', false), node(4, 2, 'primary')], { '1': 16, '2': 16 }),
    want: /drain cannot run: no other worker group takes shards/,
  },
  {
    name: 'a drain without a running primary to copy from',
    cluster: cluster(worker(1), worker(2, 'stopped')),
    group: 2,
    status: HOLDING,
    want: /drain cannot run: group 2 has no running primary/,
  },
  {
    name: 'a group without a running primary but holding nothing',
    cluster: cluster(worker(1), worker(2, 'stopped')),
    group: 2,
    status: status(NODES, { '1': 32 }),
    want: null,
  },
  {
    name: 'a removal already past its drain goes on whatever the rest looks like',
    cluster: cluster(worker(2, 'stopped', { removal: { state: 'removing', requested_at: 't' } })),
    group: 2,
    status: status(NODES, {}),
    want: null,
  },
];

for (const c of REFUSALS) {
  test(`removeGroupRefusal: ${c.name}`, () => {
    const why = removeGroupRefusal(c.cluster, c.group, c.status);
    if (c.want === null) assert.equal(why, null);
    else assert.match(why ?? '(none)', c.want);
  });
}

test('progressLine: draining with a job, waiting, removing, removed, and an unreachable coordinator', () => {
  const draining: CitusMark = { removal: { state: 'draining', requested_at: 't' } };
  const job = {
    jobId: 7,
    state: 'running',
    description: '',
    startedAt: null,
    finishedAt: null,
    counts: { done: 3, runnable: 5 },
  };
  assert.equal(
    progressLine(2, draining, status(NODES, { '2': 10 }, { rebalance: job })),
    'draining group 2: 10 shard placement(s) left; rebalance job 7 running, 3 of 8 moves done',
  );
  assert.equal(
    progressLine(2, draining, status(NODES, { '2': 10 }, { waiting: 'metadata worker x is not synced yet' })),
    'draining group 2: 10 shard placement(s) left; metadata worker x is not synced yet',
  );
  assert.equal(
    progressLine(2, { removal: { state: 'removing', requested_at: 't' } }, status(NODES, {})),
    "removing group 2's nodes from pg_dist_node: primary 10.0.2.1:5432, secondary 10.0.2.2:5432",
  );
  assert.equal(
    progressLine(2, { removal: { state: 'removed', requested_at: 't' } }, status(NODES, {})),
    'group 2 is out of pg_dist_node',
  );
  assert.match(
    progressLine(2, draining, 'group 0 has no leader'),
    /waiting for the coordinator's Citus manager: group 0 has no leader/,
  );
});

test('scaleFooter: the latest rebalance, each group being removed, what waits; nothing when all is quiet', () => {
  const job = {
    jobId: 7,
    state: 'running',
    description: '',
    startedAt: 'T',
    finishedAt: null,
    counts: { done: 1, running: 1 },
  };
  const view = cluster(worker(1), worker(2, 'running', { removal: { state: 'draining', requested_at: 't' } }));
  assert.deepEqual(scaleFooter(view, status(NODES, { '1': 20, '2': 12 }, { rebalance: job, waiting: 'x' })), [
    ' Rebalance: job 7 running, 1 of 2 moves done (started T)',
    ' Removing group 2: draining, 12 shard placement(s) left',
    ' Waiting: x',
  ]);
  assert.deepEqual(scaleFooter(cluster(worker(1), worker(2)), status(NODES, { '1': 20 })), []);
  assert.deepEqual(scaleFooter(view, 'group 0 has no leader'), [
    ' Removing group 2: draining',
    " (the coordinator's Citus manager: group 0 has no leader)",
  ]);
});
