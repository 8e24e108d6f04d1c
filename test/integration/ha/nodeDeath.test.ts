// Issue 3, node death: kill -9 the leader's agent and its PostgreSQL; a replica takes the leader
// key within ttl + 2 s and accepts writes, and the dead node, started again, rejoins through
// pg_rewind as a replica that replicates rows written after its return. Every member runs
// callbacks that print their arguments (into the agent's output): each tells its role changes.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  readLeaderKey,
  tempDir,
  useHarness,
  waitFor,
  waitForLeader,
  waitForReplicas,
  type TestMember,
} from '../../harness/index.ts';
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

/** A callback command that prints `callback <event> <role> <scope>`. */
async function printingCallback(): Promise<string> {
  const script = join(await tempDir('callback'), 'callback.sh');
  await writeFile(script, '#!/bin/sh\necho "callback $*"\n', { mode: 0o755 });
  return script;
}

/** Waits until the callbacks the member's agents printed, all runs, in order, are `expected`. */
async function waitForCallbacks(member: TestMember, scope: string, expected: string[]): Promise<void> {
  const printed = () =>
    readFileSync(member.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('callback '))
      .map((line) => line.slice('callback '.length).replace(` ${scope}`, ''));
  await waitFor(() => printed().join(', ') === expected.join(', '), {
    timeout: 10_000,
    message: `${member.name}'s callbacks ${JSON.stringify(printed())} are ${JSON.stringify(expected)}`,
  });
}

test(
  'after a node death a replica leads within ttl + 2 s and the old node rejoins through pg_rewind',
  { timeout: 120_000 },
  async (t) => {
    const callback = await printingCallback();
    const group = await startGroup({
      ttl: TTL,
      loopWait: 2,
      retryTimeout: 3,
      postgresqlExtra: { callbacks: { on_start: callback, on_stop: callback, on_role_change: callback } },
    });
    const { cluster, leader: old } = group;
    await waitForCallbacks(old, cluster.scope, ['on_start primary']);
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
    await waitForCallbacks(next, cluster.scope, ['on_start replica', 'on_role_change primary']);
    await waitForCallbacks(survivor, cluster.scope, ['on_start replica']);

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
    // Its first agent died with it: no on_stop; the second found it to rewind and started it anew.
    await waitForCallbacks(old, cluster.scope, ['on_start primary', 'on_start replica']);
    await insertMarker(next, 3, 'after the rejoin');
    await waitForMarker(old, 3, 'after the rejoin');

    await finishGroup(group);
  },
);
