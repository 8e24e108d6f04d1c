// Issue 4, scale-out with real agents: starting the two agents of a new worker group next to a
// running coordinator and worker group is all it takes; the new group's primary row appears in
// pg_dist_node within 1 s of its leader's member key showing it running as primary, and its
// replica follows as a secondary. The two-primaries checker watches every group throughout
// (it reads the cluster's members each round, so it checks the added group too).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useHarness, waitFor, waitForLeader, waitForReplicas } from '../../harness/index.ts';
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
} from './clusterSteps.ts';

useHarness();

/** The bound from the new group's leader running as primary to its row in pg_dist_node. */
const REGISTER_BOUND_MS = 1000;
const NEW_GROUP = 3;

test(
  'a worker group started later is registered within 1 s of its leader running as primary',
  { timeout: 120_000 },
  async (t) => {
    const running = await startCitusCluster({ groups: [0, 1] });
    const { cluster, leaders } = running;
    const coordinator = leaders.get(0);
    const worker = leaders.get(1);
    assert.ok(coordinator && worker);
    const rowsOf = (groups: { leader: typeof coordinator }[]) =>
      expectedRows(groups.map(({ leader }) => ({ leader, secondaries: [otherMember(cluster, leader)] })));
    await waitForRows(coordinator, rowsOf([{ leader: coordinator }, { leader: worker }]));

    const added = await cluster.addGroup(NEW_GROUP, 2);
    const client = await citusClient(coordinator);
    const watch = await watchPrimaryKey(cluster, NEW_GROUP);
    for (const m of added) m.start();
    const registered = await pollRows(client, (rows) => primaryRow(rows, NEW_GROUP) !== undefined, {
      timeout: 90_000,
      message: `group ${NEW_GROUP} has a primary row`,
    });
    const key = await waitFor(() => watch.seen, {
      timeout: 5_000,
      message: `a group ${NEW_GROUP} member key was seen running as primary`,
    });
    watch.close();
    const ms = Math.round(registered.at - key.at);
    t.diagnostic(
      `scale-out: group ${NEW_GROUP}'s primary row visible ${ms} ms after ` +
        `${key.member}'s member key showed it running as primary`,
    );
    assert.ok(
      ms <= REGISTER_BOUND_MS,
      `registered ${ms} ms after the leader ran as primary, over ${REGISTER_BOUND_MS} ms`,
    );
    const newLeader = cluster.member(key.member);
    assert.equal(
      primaryRow(registered.rows, NEW_GROUP)?.nodeport,
      newLeader.pgPort,
      `the primary row names ${newLeader.name}`,
    );

    assert.equal((await waitForLeader(cluster, NEW_GROUP, { timeout: 30_000 })).name, newLeader.name);
    await waitForReplicas(cluster, NEW_GROUP, { timeout: 60_000 });
    await waitForRows(coordinator, rowsOf([{ leader: coordinator }, { leader: worker }, { leader: newLeader }]));

    await finishCitusCluster(running);
  },
);
