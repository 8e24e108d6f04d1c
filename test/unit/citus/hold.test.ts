// holdGroups: a group on hold is planned as exactly what its rows say, the others as usual.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { desiredTopology } from '../../../src/citus/desired.ts';
import { holdGroups } from '../../../src/citus/hold.ts';
import { flattenPlan, planMetadata } from '../../../src/citus/plan.ts';
import type { PgDistNodeRow } from '../../../src/citus/types.ts';
import type { ClusterView, GroupView } from '../../../src/dcs/types.ts';

const row = (nodeid: number, groupid: number, port: number, noderole: 'primary' | 'secondary'): PgDistNodeRow => ({
  nodeid,
  groupid,
  nodename: 'h',
  nodeport: port,
  noderack: 'default',
  hasmetadata: true,
  isactive: true,
  noderole,
  nodecluster: 'default',
  metadatasynced: true,
  shouldhaveshards: true,
});

function group(g: number, leader: string, members: Array<[string, number, string]>): GroupView {
  return {
    group: g,
    initialize: '1',
    config: null,
    sync: null,
    failover: null,
    history: null,
    status: null,
    failsafe: null,
    leader: { name: leader, modRevision: '1', createRevision: '1', lease: '1' },
    members: members.map(([name, port, role]) => ({
      name,
      modRevision: '1',
      lease: '1',
      data: { conn_url: `postgres://h:${port}/postgres`, api_url: '', state: 'running', role, version: '' },
    })),
  };
}

// Both groups failed over in etcd (port 2 -> 3 and 12 -> 13), and lost their old secondaries.
const view: ClusterView = {
  revision: '1',
  groups: [group(1, 'b', [['b', 3, 'primary']]), group(2, 'y', [['y', 13, 'primary']])],
};
const rows = {
  nodes: [row(1, 1, 2, 'primary'), row(2, 1, 4, 'secondary'), row(3, 2, 12, 'primary'), row(4, 2, 14, 'secondary')],
  poolinfo: [],
};

test('a plan never touches a held group but still reconciles the others', () => {
  const desired = holdGroups(desiredTopology(view), rows, new Set([1]));
  const plan = flattenPlan(planMetadata(desired, rows.nodes, rows.poolinfo));
  assert.ok(plan.length > 0);
  for (const s of plan) assert.doesNotMatch(s.why, /group 1/);
  assert.ok(plan.some((s) => /group 2: repoint primary nodeid 3/.test(s.why)));
  assert.ok(
    plan.some((s) => /group 2: secondary .*nodeid 4/.test(s.why)),
    plan.map((s) => s.why).join('\n'),
  );
});

test('without held groups the desired topology is returned unchanged', () => {
  const desired = desiredTopology(view);
  assert.equal(holdGroups(desired, rows, new Set()), desired);
});
