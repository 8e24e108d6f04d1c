// Issue 3, PostgreSQL crash with the agent alive: kill -9 of the leader's postmaster is repaired
// by a restart in place (same leader, same timeline); with primary_start_timeout 0 a replica
// takes over instead and the old primary rejoins as a replica.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useHarness, waitForLeader, waitForReplicas } from '../../harness/index.ts';
import {
  createMarkerTable,
  finishGroup,
  insertMarker,
  logMatches,
  primaryTimeline,
  recordLeaderKey,
  startGroup,
  waitForLeaderKeyMovedFrom,
  waitForMarker,
  waitForWrite,
} from './helpers.ts';

useHarness();

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 3 } as const;

test(
  'a crashed primary postmaster is restarted in place: same leader, same timeline, no failover',
  { timeout: 90_000 },
  async () => {
    const group = await startGroup(TIMING);
    const { cluster, leader } = group;
    await createMarkerTable(leader);
    await insertMarker(leader, 1, 'before the crash');
    const timeline = await primaryTimeline(leader);
    const leaderKey = recordLeaderKey(cluster);

    const crashedAt = Date.now();
    const killed = await leader.killPostgres('SIGKILL');
    await waitForWrite(leader, 2, 'after the restart');
    const restarted = leader.postmasterPid();
    assert.ok(restarted !== null && restarted !== killed, 'a new postmaster runs');
    assert.equal(await primaryTimeline(leader), timeline, 'the primary stays on its timeline');
    assert.ok(
      logMatches(leader, /restarting in place/, crashedAt).length > 0,
      `${leader.name} logged the restart in place`,
    );
    assert.equal((await waitForLeader(cluster, null, { timeout: 10_000 })).name, leader.name);
    await Promise.all(group.replicas.map((r) => waitForMarker(r, 2, 'after the restart')));
    await waitForReplicas(cluster, null, { timeout: 30_000 });
    assert.deepEqual(await leaderKey.stop(), [leader.name], 'the leader key never left the crashed primary');
    for (const r of group.replicas)
      assert.equal(logMatches(r, /^promot/, crashedAt).length, 0, `${r.name} did not promote`);

    await finishGroup(group);
  },
);

test(
  'with primary_start_timeout 0 a crashed primary gives the leader key to a replica and rejoins as one',
  { timeout: 90_000 },
  async () => {
    const group = await startGroup({ ...TIMING, dcsExtra: { primary_start_timeout: 0 } });
    const { cluster, leader: old } = group;
    await createMarkerTable(old);
    await insertMarker(old, 1, 'before the crash');
    await Promise.all(group.replicas.map((r) => waitForMarker(r, 1, 'before the crash')));
    const timeline = await primaryTimeline(old);

    const crashedAt = Date.now();
    await old.killPostgres('SIGKILL');
    const next = await waitForLeaderKeyMovedFrom(cluster, old, 30_000);
    await waitForWrite(next, 2, 'after the failover');
    assert.ok((await primaryTimeline(next)) > timeline, 'the new primary runs on a new timeline');
    assert.ok(
      logMatches(old, /releasing the leader key/, crashedAt).length > 0,
      `${old.name} released the key\n${old.log()}`,
    );
    assert.equal(logMatches(old, /restarting in place/, crashedAt).length, 0, `${old.name} did not restart as primary`);

    await waitForReplicas(cluster, null, { timeout: 60_000, count: 2 });
    assert.equal((await waitForLeader(cluster, null, { timeout: 10_000 })).name, next.name);
    await waitForMarker(old, 2, 'after the failover');
    await insertMarker(next, 3, 'after the rejoin');
    await waitForMarker(old, 3, 'after the rejoin');

    await finishGroup(group);
  },
);
