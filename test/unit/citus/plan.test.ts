// planMetadata as a table of scenarios (planCases.ts): each case states the desired topology,
// the current metadata and the exact statements; every case is also applied through a small
// simulator to check that the plan runs cleanly, reaches the desired state and replans to nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { DEFAULT_PLAN_OPTIONS, planMetadata, SQL, SWAP_SUFFIX } from '../../../src/citus/plan.ts';
import type { DesiredTopology } from '../../../src/citus/types.ts';
import { cases, describeStatement, group, node, row, sec, topo } from './planCases.ts';
import { simulate, type Metadata } from './simulate.ts';

// ---- checks --------------------------------------------------------------------------------

/** The simulated metadata describes the desired topology, group by group. */
function assertReaches(desired: DesiredTopology, after: Metadata): void {
  const managed = after.rows.filter((r) => r.nodecluster === 'default' && r.noderole !== 'unavailable');
  for (const g of desired.groups) {
    const rows = managed.filter((r) => r.groupid === g.group);
    if (g.primary.kind === 'node') {
      const p = rows.filter((r) => r.noderole === 'primary');
      assert.deepEqual(
        p.map((r) => [r.nodename, r.nodeport]),
        [[g.primary.node.host, g.primary.node.port]],
        `group ${g.group} primary`,
      );
      const info = after.poolinfo.find((x) => x.nodeid === p[0].nodeid)?.poolinfo ?? null;
      assert.equal(info, g.primary.node.poolinfo, `group ${g.group} primary poolinfo`);
    }
    const secondaries = rows
      .filter((r) => r.noderole === 'secondary')
      .map((r) => [r.nodename, r.nodeport, after.poolinfo.find((x) => x.nodeid === r.nodeid)?.poolinfo ?? null]);
    const wanted = g.secondaries.map((s) => [s.host, s.port, s.poolinfo]);
    const order = (a: unknown[], b: unknown[]) => String(a).localeCompare(String(b));
    assert.deepEqual(secondaries.sort(order), wanted.sort(order), `group ${g.group} secondaries`);
  }
}

describe('planMetadata', () => {
  for (const c of cases) {
    test(c.name, () => {
      const plan = planMetadata(c.desired, c.rows, c.poolinfo ?? []);
      assert.deepEqual(plan.map(describeStatement), c.expect);
    });
  }

  test('every case applies cleanly, reaches the desired metadata, keeps primary nodeids, and replans to nothing', () => {
    for (const c of cases) {
      const start: Metadata = { rows: c.rows, poolinfo: c.poolinfo ?? [] };
      const plan = planMetadata(c.desired, start.rows, start.poolinfo);
      const after = simulate(start, plan);
      if (!c.partial) assertReaches(c.desired, after);
      for (const before of c.rows.filter((r) => r.noderole === 'primary' && r.nodecluster === 'default')) {
        const now = after.rows.find((r) => r.nodeid === before.nodeid);
        assert.ok(now && now.noderole === 'primary' && now.groupid === before.groupid, `${c.name}: primary row ${before.nodeid} kept`);
      }
      for (const foreign of c.rows.filter((r) => r.nodecluster !== 'default' || r.noderole === 'unavailable')) {
        assert.deepEqual(after.rows.find((r) => r.nodeid === foreign.nodeid), foreign, `${c.name}: row ${foreign.nodeid} untouched`);
      }
      assert.deepEqual(planMetadata(c.desired, after.rows, after.poolinfo).map(describeStatement), [], `${c.name}: replan`);
    }
  });

  test('the table has at least 25 cases', () => {
    assert.ok(cases.length >= 25, `${cases.length} cases`);
  });

  test('statements are exactly Citus’s node API and pg_dist_poolinfo DML', () => {
    assert.equal(SQL.addNode, "SELECT pg_catalog.citus_add_node($1, $2, $3, $4, 'default')");
    assert.equal(SQL.updateNode, 'SELECT pg_catalog.citus_update_node($1, $2, $3, $4, $5)');
    assert.equal(SQL.removeNode, 'SELECT pg_catalog.citus_remove_node($1, $2)');
    const plan = planMetadata(
      topo(group(0, node('c1', 'c1')), group(1, node('w1b', 'w1b', 5432, 'host=w1b port=6432'), [node('w1c', 'w1c')])),
      [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1d')],
      [],
    );
    assert.deepEqual(
      plan.map((s) => [s.sql, s.params]),
      [
        [SQL.updateNode, [2, 'w1b', 5432, true, 10000]],
        [SQL.removeNode, ['w1d', 5432]],
        [SQL.addNode, ['w1c', 5432, 1, 'secondary']],
        [SQL.insertPoolinfo, [2, 'host=w1b port=6432']],
      ],
    );
  });

  test('primary repoints use the given force and lock_cooldown; secondary moves never force', () => {
    const plan = planMetadata(
      topo(group(0, node('c1', 'c1')), group(1, node('w1b', 'w1b'), [node('w1a', 'w1a')])),
      [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b')],
      [],
      { force: false, lockCooldownMs: 2500 },
    );
    assert.deepEqual(
      plan.map((s) => s.params.slice(3)),
      [
        [false, 2500],
        [false, 2500],
        [false, 2500],
      ],
    );
    const forced = planMetadata(topo(group(1, node('w1b', 'w1b'))), [row(2, 1, 'w1a')], []);
    assert.deepEqual(forced[0].params.slice(3), [DEFAULT_PLAN_OPTIONS.force, DEFAULT_PLAN_OPTIONS.lockCooldownMs]);
    assert.equal(DEFAULT_PLAN_OPTIONS.force, true);
  });

  test('every statement says why it is needed', () => {
    for (const c of cases) {
      for (const s of planMetadata(c.desired, c.rows, c.poolinfo ?? [])) assert.ok(s.why.length > 10, `${c.name}: ${s.sql}`);
    }
  });

  test('a temporary name never collides with an existing address', () => {
    const plan = planMetadata(
      topo(group(0, node('c1', 'c1')), group(1, node('w1b', 'w1b'), [node('w1a', 'w1a')])),
      [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b'), row(9, 1, `w1b${SWAP_SUFFIX}`, 5432, 'secondary', 'analytics')],
      [],
    );
    assert.equal(describeStatement(plan[0]), `update #5 w1b${SWAP_SUFFIX}-2:5432`);
    simulate({ rows: [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b'), row(9, 1, `w1b${SWAP_SUFFIX}`, 5432, 'secondary', 'analytics')], poolinfo: [] }, plan);
  });

  test('the plan does not depend on the order of the current rows', () => {
    for (const c of cases) {
      const forward = planMetadata(c.desired, c.rows, c.poolinfo ?? []);
      const backward = planMetadata(c.desired, [...c.rows].reverse(), [...(c.poolinfo ?? [])].reverse());
      assert.deepEqual(backward, forward, c.name);
    }
  });
});
