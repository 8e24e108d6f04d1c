// Issue 3, node death: kill -9 the leader's agent and its PostgreSQL; a replica takes the leader
// key within ttl + 2 s and accepts writes, and the dead node, started again, rejoins through
// pg_rewind as a replica that replicates rows written after its return.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readLeaderKey, useHarness, waitForLeader, waitForReplicas } from '../../harness/index.ts';
import {
  createMarkerTable,
  finishGroup,
  insertMarker,
  logMatches,
  primaryTimeline,
  startGroup,
  waitForLeaderKeyMovedFrom,
  waitForMarker,
  waitForWrite,
} from './helpers.ts';

useHarness();

const TTL = 10;

test(
  'after a node death a replica leads within ttl + 2 s and the old node rejoins through pg_rewind',
  { timeout: 120_000 },
  async (t) => {
    const group = await startGroup({ ttl: TTL, loopWait: 2, retryTimeout: 3 });
    const { cluster, leader: old } = group;
    await createMarkerTable(old);
    await insertMarker(old, 1, 'before the death');
    await Promise.all(group.replicas.map((r) => waitForMarker(r, 1, 'before the death')));
    const oldTimeline = await primaryTimeline(old);

    const killedAt = Date.now();
    await old.killAll();
    const next = await waitForLeaderKeyMovedFrom(cluster, old, 60_000);
    await waitForWrite(next, 2, 'after the death');
    const writableAfterMs = Date.now() - killedAt;
    // The new leader's own record of when etcd accepted its key: polling etcd from a busy test
    // process would add its own delay to the figure.
    const acquired = logMatches(next, /^leader lock acquired$/, killedAt)[0];
    assert.ok(acquired, `${next.name} logged taking the leader key`);
    const keyAfterMs = acquired.time - killedAt;
    t.diagnostic(`leader key after ${keyAfterMs} ms, writes accepted after ${writableAfterMs} ms`);
    assert.ok(
      keyAfterMs <= (TTL + 2) * 1000,
      `the new leader key appeared ${keyAfterMs} ms after the kill, over ttl + 2 s`,
    );
    assert.ok((await primaryTimeline(next)) > oldTimeline, 'the promoted replica runs on a new timeline');
    const survivor = group.replicas.find((r) => r !== next);
    assert.ok(survivor);
    await waitForMarker(survivor, 2, 'after the death');

    const restartedAt = Date.now();
    old.start();
    await waitForReplicas(cluster, null, { timeout: 60_000, count: 2 });
    assert.equal((await waitForLeader(cluster, null, { timeout: 10_000 })).name, next.name, 'the leader stays');
    assert.equal(await readLeaderKey(cluster.etcd, cluster.scope, null), next.name);
    assert.ok(
      logMatches(old, /^rewind finished$/, restartedAt).length > 0,
      `${old.name} rejoined through pg_rewind\n${old.log()}`,
    );
    assert.equal(
      logMatches(old, /^(reinitialize|clone) (started|finished)$/, restartedAt).length,
      0,
      `${old.name} was not re-cloned`,
    );
    await waitForMarker(old, 2, 'after the death');
    await insertMarker(next, 3, 'after the rejoin');
    await waitForMarker(old, 3, 'after the rejoin');

    await finishGroup(group);
  },
);
