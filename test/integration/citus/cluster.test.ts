// Issue 4 with real agents: three groups of two come up with the coordinator's pg_dist_node
// naming every primary and secondary; a worker node death repoints the group's primary row within
// 1 s of the new leader running, keeping its nodeid; a coordinator node death hands the manager
// to the other coordinator member. The two-primaries checker watches throughout.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  readLeaderKey,
  useHarness,
  waitFor,
  waitForLeader,
  waitForReplicas,
  type TestMember,
} from '../../harness/index.ts';
import {
  citusClient,
  expectedRows,
  finishCitusCluster,
  otherMember,
  pollRows,
  primaryRow,
  startCitusCluster,
  waitForRows,
  watchPrimaryKey,
  groupLeader,
  type RunningCitusCluster,
} from './clusterSteps.ts';

useHarness();

const GROUPS = [0, 1, 2];
/** The bound from the new worker leader running as primary to its row in pg_dist_node. */
const REPOINT_BOUND_MS = 1000;

let running: RunningCitusCluster;
/** Current leader of each group, kept up to date as the tests kill members. */
let leaders: Map<number, TestMember>;

const leaderOf = (group: number): TestMember => groupLeader(running, group);

before(
  async () => {
    running = await startCitusCluster({ groups: GROUPS });
    leaders = running.leaders;
  },
  { timeout: 120_000 },
);

after(async () => {
  // Only when every test got this far; a failed test leaves cleanup to the harness.
  if (running !== undefined) await finishCitusCluster(running);
});

test(
  'three groups of two register their primaries and one secondary each in pg_dist_node',
  { timeout: 60_000 },
  async () => {
    const { cluster } = running;
    const want = expectedRows(
      GROUPS.map((g) => ({ leader: leaderOf(g), secondaries: [otherMember(cluster, leaderOf(g))] })),
    );
    assert.equal(want.length, 6);
    const rows = await waitForRows(leaderOf(0), want);
    for (const g of GROUPS) {
      assert.equal(
        await readLeaderKey(cluster.etcd, cluster.scope, g),
        leaderOf(g).name,
        `group ${g}'s primary row is its leader`,
      );
      assert.equal(rows.filter((r) => r.groupid === g).length, 2, `group ${g} has two rows`);
    }
  },
);

test(
  'a worker node death with its replica registered as secondary repoints the primary row within 1 s of the new ' +
    'leader running, keeping its nodeid, while the dead primary is still a metadata worker; ' +
    'its row goes once Citus synced',
  { timeout: 90_000 },
  async (t) => {
    const { cluster } = running;
    const coordinator = leaderOf(0);
    const old = leaderOf(1);
    const next = otherMember(cluster, old);
    const client = await citusClient(coordinator);
    const before = primaryRow(
      (
        await pollRows(client, (rows) => primaryRow(rows, 1)?.nodeport === old.pgPort, {
          timeout: 10_000,
          message: `group 1's primary row names ${old.name}`,
        })
      ).rows,
      1,
    );
    assert.ok(before);

    const watch = await watchPrimaryKey(cluster, 1, old.name);
    await old.killAll();
    const repointed = await pollRows(client, (rows) => primaryRow(rows, 1)?.nodeport === next.pgPort, {
      timeout: 60_000,
      message: `group 1's primary row names ${next.name}`,
    });
    const key = await waitFor(() => watch.seen, { timeout: 5_000, message: 'the new leader member key was seen' });
    watch.close();
    const ms = Math.round(repointed.at - key.at);
    t.diagnostic(
      `worker failover: pg_dist_node repointed ${ms} ms after ${key.member}'s member key showed it running as primary`,
    );
    assert.equal(key.member, next.name);
    assert.ok(
      ms <= REPOINT_BOUND_MS,
      `repointed ${ms} ms after the new leader ran as primary, over ${REPOINT_BOUND_MS} ms`,
    );
    assert.equal(primaryRow(repointed.rows, 1)?.nodeid, before.nodeid, 'the primary row keeps its nodeid');
    leaders.set(1, await waitForLeader(cluster, 1, { timeout: 10_000 }));
    assert.equal(leaderOf(1).name, next.name);
    // The promoted replica's secondary row took the dead node's address in the repoint; with the
    // metadata workers synced again, that row (no running replica behind it) is removed.
    await waitForRows(
      coordinator,
      expectedRows(
        GROUPS.map((g) => ({ leader: leaderOf(g), secondaries: g === 1 ? [] : [otherMember(cluster, leaderOf(g))] })),
      ),
    );

    old.start();
    await waitForReplicas(cluster, 1, { timeout: 60_000 });
    const rows = await waitForRows(
      coordinator,
      expectedRows(GROUPS.map((g) => ({ leader: leaderOf(g), secondaries: [otherMember(cluster, leaderOf(g))] }))),
    );
    assert.equal(primaryRow(rows, 1)?.nodeid, before.nodeid, 'the primary row still has its nodeid');
    assert.ok(
      rows.some((r) => r.groupid === 1 && r.noderole === 'secondary' && r.nodeport === old.pgPort),
      `${old.name} is back as a secondary of group 1`,
    );
  },
);

test(
  'after a coordinator node death the other coordinator member runs the manager and group 0 names it',
  { timeout: 90_000 },
  async (t) => {
    const { cluster } = running;
    const old = leaderOf(0);
    const next = otherMember(cluster, old);
    const before = await waitForRows(
      old,
      expectedRows(GROUPS.map((g) => ({ leader: leaderOf(g), secondaries: [otherMember(cluster, leaderOf(g))] }))),
    );
    const coordinatorRow = primaryRow(before, 0);
    assert.ok(coordinatorRow);

    // Opened while it is a replica: promotion keeps the connection, so the repoint is seen at once.
    const client = await citusClient(next);
    const watch = await watchPrimaryKey(cluster, 0, old.name);
    await old.killAll();
    const repointed = await pollRows(client, (rows) => primaryRow(rows, 0)?.nodeport === next.pgPort, {
      timeout: 60_000,
      message: `group 0's primary row names ${next.name}`,
    });
    const key = await waitFor(() => watch.seen, { timeout: 5_000, message: 'the new coordinator member key was seen' });
    watch.close();
    t.diagnostic(
      `coordinator failover: group 0 repointed ${Math.round(repointed.at - key.at)} ms after ` +
        `${key.member}'s member key showed it running as primary`,
    );
    leaders.set(0, await waitForLeader(cluster, 0, { timeout: 60_000 }));
    assert.equal(leaderOf(0).name, next.name);
    // The dead member is no secondary any more; the workers' rows stay as they were.
    const want = expectedRows(
      GROUPS.map((g) => ({ leader: leaderOf(g), secondaries: g === 0 ? [] : [otherMember(cluster, leaderOf(g))] })),
    );
    const rows = await waitForRows(next, want);
    assert.equal(primaryRow(rows, 0)?.nodeid, coordinatorRow.nodeid, 'the coordinator row keeps its nodeid');
    for (const g of [1, 2]) {
      assert.deepEqual(
        rows.filter((r) => r.groupid === g),
        before.filter((r) => r.groupid === g),
        `group ${g}'s rows are untouched`,
      );
    }

    old.start();
    await waitForReplicas(cluster, 0, { timeout: 60_000 });
    await waitForRows(
      next,
      expectedRows(GROUPS.map((g) => ({ leader: leaderOf(g), secondaries: [otherMember(cluster, leaderOf(g))] }))),
    );
  },
);
