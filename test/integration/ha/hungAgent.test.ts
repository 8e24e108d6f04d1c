// Issue 3, hung agent: SIGSTOP on the leader's agent lets its lease expire and a replica takes
// over; the old primary must stop being writable before that, and on SIGCONT it steps down at
// once, takes no leader action and rejoins as a replica. The checker runs throughout.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useHarness, waitForLeader, waitForReplicas } from '../../harness/index.ts';
import {
  createMarkerTable,
  finishGroup,
  insertMarker,
  logLines,
  logMatches,
  recordLeaderKey,
  startGroup,
  waitForLeaderKeyMovedFrom,
  waitForMarker,
  waitForWrite,
} from './helpers.ts';

useHarness();

/** Actions that only a lock holder takes. */
const LEADER_ACTIONS = new Set(['acquireLock', 'updateLock', 'promote', 'restartInPlace', 'writeHistory']);

test(
  'a frozen leader agent loses the lock to a replica and, resumed, steps down without acting as leader',
  { timeout: 90_000 },
  async () => {
    const group = await startGroup({ ttl: 10, loopWait: 2, retryTimeout: 3 });
    const { cluster, leader: old } = group;
    await createMarkerTable(old);
    await insertMarker(old, 1, 'before the freeze');
    await Promise.all(group.replicas.map((r) => waitForMarker(r, 1, 'before the freeze')));

    const pausedAt = Date.now();
    old.pause();
    const next = await waitForLeaderKeyMovedFrom(cluster, old, 40_000);
    await waitForWrite(next, 2, 'after the takeover');
    assert.ok(group.replicas.includes(next), 'a replica took over');
    // Still frozen, the old primary must not take writes any more (the checker watches the overlap).
    const oldWritable = await old.query<{ writable: boolean }>('select not pg_is_in_recovery() as writable').then(
      (r) => r.rows[0]?.writable === true,
      () => false,
    );
    assert.equal(oldWritable, false, `${old.name} is no writable primary while a replica leads`);
    const leaderKey = recordLeaderKey(cluster);

    const resumedAt = Date.now();
    old.resume();
    await waitForReplicas(cluster, null, { timeout: 60_000, count: 2 });
    assert.equal((await waitForLeader(cluster, null, { timeout: 10_000 })).name, next.name);
    await waitForMarker(old, 2, 'after the takeover');
    await insertMarker(next, 3, 'after the resume');
    await waitForMarker(old, 3, 'after the resume');
    assert.deepEqual(await leaderKey.stop(), [next.name], 'the leader key stayed with the new leader after the resume');

    // Its first decision after the resume steps down; none after it acts as a leader.
    const decisions = logLines(old).filter(
      (l) => l.time >= resumedAt && typeof l.action === 'string' && l.reason !== undefined,
    );
    const first = decisions[0];
    assert.ok(first, `${old.name} decided something after the resume`);
    assert.notEqual(first.role, 'primary', `first decision after the resume: ${first.reason}`);
    // Either its watchdog stopped PostgreSQL while the agent was frozen, or the agent demotes it now.
    const stepDown =
      first.action?.split(',').includes('demote') === true ||
      logMatches(old, /^watchdog: .*postmaster/, pausedAt).length > 0;
    assert.ok(
      stepDown,
      `${old.name} demoted, or was fenced while frozen (first decision: ${first.reason})\n${old.log()}`,
    );
    for (const d of decisions) {
      const leaderActions = (d.action ?? '').split(',').filter((a) => LEADER_ACTIONS.has(a));
      assert.deepEqual(leaderActions, [], `${old.name} took no leader action after the resume: ${d.reason}`);
    }
    assert.equal(
      logMatches(old, /^leader (lock acquired|key moved)/, pausedAt).length,
      0,
      `${old.name} never wrote the leader key again`,
    );

    await finishGroup(group);
  },
);
