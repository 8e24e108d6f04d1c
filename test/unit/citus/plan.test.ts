// planMetadata as a table of scenarios (planCases.ts): each case states the desired topology,
// the current metadata and the exact transactions; every case is also applied through a small
// simulator that enforces Citus's rules (update_node unsyncs the metadata workers; adds and
// removes need them synced and up) to check the two phases run cleanly and reach the desired state.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { DEFAULT_PLAN_OPTIONS, flattenPlan, planMetadata, type MetadataPlan } from '../../../src/citus/plan.ts';
import { SWAP_SUFFIX } from '../../../src/citus/planRows.ts';
import { SQL } from '../../../src/citus/planSql.ts';
import type { DesiredTopology, PgDistNodeRow } from '../../../src/citus/types.ts';
import { cases, describePlan, describeStatement, group, node, row, sec, topo } from './planCases.ts';
import { effectOf, simulate, syncAll, type Metadata } from './simulate.ts';

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

/** Runs a plan the way the manager does: local changes, Citus's sync, then membership changes. */
function runPlan(start: Metadata, plan: MetadataPlan, down: ReadonlySet<string> = new Set()): Metadata {
  let m = start;
  for (const c of plan.local) m = simulate(m, c.statements, { down });
  m = syncAll(m);
  for (const c of plan.membership) m = simulate(m, c.statements);
  return m;
}

const address = (r: PgDistNodeRow): string => `${r.nodename}:${r.nodeport}`;

describe('planMetadata', () => {
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(describePlan(planMetadata(c.desired, c.rows, c.poolinfo ?? [])), c.expect);
    });
  }

  test(
    'every case runs cleanly in two phases, reaches the desired metadata, keeps primary nodeids, ' +
      'and replans to nothing',
    () => {
      for (const c of cases) {
        const start: Metadata = { rows: c.rows, poolinfo: c.poolinfo ?? [] };
        const after = runPlan(start, planMetadata(c.desired, start.rows, start.poolinfo));
        if (!c.partial) assertReaches(c.desired, after);
        for (const before of c.rows.filter((r) => r.noderole === 'primary' && r.nodecluster === 'default')) {
          const now = after.rows.find((r) => r.nodeid === before.nodeid);
          assert.ok(
            now && now.noderole === 'primary' && now.groupid === before.groupid,
            `${c.name}: primary row ${before.nodeid} kept`,
          );
        }
        for (const foreign of c.rows.filter((r) => r.nodecluster !== 'default' || r.noderole === 'unavailable')) {
          assert.deepEqual(
            after.rows.find((r) => r.nodeid === foreign.nodeid),
            foreign,
            `${c.name}: row ${foreign.nodeid} untouched`,
          );
        }
        assert.deepEqual(describePlan(planMetadata(c.desired, after.rows, after.poolinfo)), [], `${c.name}: replan`);
      }
    },
  );

  test('local changes hold no add or remove and succeed with every registered node down', () => {
    for (const c of cases) {
      const plan = planMetadata(c.desired, c.rows, c.poolinfo ?? []);
      const down = new Set(c.rows.map(address));
      let m: Metadata = { rows: c.rows, poolinfo: c.poolinfo ?? [] };
      for (const change of plan.local) {
        for (const s of change.statements)
          assert.ok(!['add', 'remove'].includes(effectOf(s).op), `${c.name}: ${describeStatement(s)}`);
        m = simulate(m, change.statements, { down });
      }
    }
  });

  test('a repoint touches one group’s rows, and every membership change is exactly one add or remove', () => {
    for (const c of cases) {
      const plan = planMetadata(c.desired, c.rows, c.poolinfo ?? []);
      for (const change of plan.local.filter((x) => x.kind === 'repoint')) {
        assert.ok(
          change.statements.some((s) => s.sql === SQL.updateNode),
          `${c.name}: a repoint updates a row`,
        );
      }
      for (const change of plan.membership) {
        const ops = change.statements.map((s) => effectOf(s).op).filter((op) => op === 'add' || op === 'remove');
        assert.equal(ops.length, 1, `${c.name}: ${describePlan({ local: [], membership: [change] }).join()}`);
      }
    }
  });

  test('a node death with a secondary registered: the repoint runs while the dead primary is a metadata worker', () => {
    const rows = [row(1, 0, 'c1'), row(2, 1, 'w1a'), row(3, 2, 'w2a'), sec(5, 1, 'w1b'), sec(6, 2, 'w2b')];
    const desired = topo(
      group(0, node('c1', 'c1')),
      group(1, node('w1b', 'w1b')),
      group(2, node('w2a', 'w2a'), [node('w2b', 'w2b')]),
    );
    const plan = planMetadata(desired, rows, []);
    const after = runPlan({ rows, poolinfo: [] }, plan, new Set(['w1a:5432']));
    assert.deepEqual(
      after.rows.filter((r) => r.groupid === 1).map((r) => [r.nodeid, r.noderole, address(r)]),
      [[2, 'primary', 'w1b:5432']],
    );
    // Before Citus's sync ran, the removal of the dead node's row is refused, as on Citus.
    let unsynced: Metadata = { rows, poolinfo: [] };
    for (const c of plan.local) unsynced = simulate(unsynced, c.statements);
    assert.throws(() => simulate(unsynced, plan.membership[0].statements), /out of sync/);
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
      flattenPlan(plan).map((s) => [s.sql, s.params]),
      [
        [SQL.updateNode, [2, 'w1b', 5432, true, 10000]],
        [SQL.insertPoolinfo, [2, 'host=w1b port=6432']],
        [SQL.removeNode, ['w1d', 5432]],
        [SQL.addNode, ['w1c', 5432, 1, 'secondary']],
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
      flattenPlan(plan).map((s) => s.params.slice(3)),
      [
        [false, 2500],
        [false, 2500],
        [false, 2500],
      ],
    );
    const forced = planMetadata(
      topo(group(0, node('c1', 'c1')), group(1, node('w1b', 'w1b'), [node('w1a', 'w1a')])),
      [row(1, 0, 'c1'), row(2, 1, 'w1a'), sec(5, 1, 'w1b')],
      [],
    );
    assert.deepEqual(
      flattenPlan(forced).map((s) => [s.params[0], s.params[3]]),
      [
        [2, DEFAULT_PLAN_OPTIONS.force],
        [5, false],
        [2, DEFAULT_PLAN_OPTIONS.force],
      ],
    );
    assert.equal(DEFAULT_PLAN_OPTIONS.force, true);
  });

  test('every statement says why it is needed', () => {
    for (const c of cases) {
      for (const s of flattenPlan(planMetadata(c.desired, c.rows, c.poolinfo ?? [])))
        assert.ok(s.why.length > 10, `${c.name}: ${s.sql}`);
    }
  });

  test('a temporary name never collides with an existing address', () => {
    const rows = [
      row(1, 0, 'c1'),
      row(2, 1, 'w1a'),
      sec(5, 1, 'w1b'),
      row(9, 1, `w1a${SWAP_SUFFIX}`, 5432, 'secondary', 'analytics'),
    ];
    const plan = planMetadata(
      topo(group(0, node('c1', 'c1')), group(1, node('w1b', 'w1b'), [node('w1a', 'w1a')])),
      rows,
      [],
    );
    assert.equal(describeStatement(flattenPlan(plan)[0]), `update #2 w1a${SWAP_SUFFIX}-2:5432`);
    runPlan({ rows, poolinfo: [] }, plan);
  });

  test('the plan does not depend on the order of the current rows', () => {
    for (const c of cases) {
      const forward = planMetadata(c.desired, c.rows, c.poolinfo ?? []);
      const backward = planMetadata(c.desired, [...c.rows].reverse(), [...(c.poolinfo ?? [])].reverse());
      assert.deepEqual(backward, forward, c.name);
    }
  });
});
