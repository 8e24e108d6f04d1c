// A worker primary that stops answering the coordinator: its routed writes wait instead of
// failing. A blackhole of a few seconds is a blip (no failover, writes wait and then succeed on
// the same primary); a node death pauses the group from the probes' verdict until the new
// primary is registered; a group nobody can take over rolls its pause back at the deadline.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import YAML from 'yaml';
import { useHarness, waitFor, waitForLeader, waitForReplicas, type TestMember } from '../../harness/index.ts';
import {
  CitusApp,
  distNodes,
  finishCitusCluster,
  groupLeader,
  memberAddress,
  otherMember,
  primaryRow,
  RoutedWriter,
  startCitusCluster,
  type RunningCitusCluster,
} from './clusterSteps.ts';

useHarness();

const GROUPS = [0, 1, 2];
/** 50 writes a second, as the writer. */
const WRITE_INTERVAL_MS = 20;
let running: RunningCitusCluster;

const leaderOf = (group: number): TestMember => groupLeader(running, group);
/** The port a member is registered at: its proxy's when others reach it through one. */
const registered = (m: TestMember): number => m.proxy?.port ?? m.pgPort;

/** pg_dist_node as `group role port` lines, from each group's leader and other member. */
function expected(): string[] {
  return GROUPS.flatMap((g) => [
    `${g} primary ${registered(leaderOf(g))}`,
    `${g} secondary ${registered(otherMember(running.cluster, leaderOf(g)))}`,
  ]).sort();
}

async function registeredRows(): Promise<string[]> {
  return (await distNodes(leaderOf(0))).map((r) => `${r.groupid} ${r.noderole} ${r.nodeport}`).sort();
}

interface PauseCounters {
  opened: number;
  committed: number;
  rolledBack: number;
}

async function pauseCounters(): Promise<PauseCounters> {
  const res = await fetch(`${leaderOf(0).apiUrl}/citus`, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200);
  return ((await res.json()) as { pauses: PauseCounters }).pauses;
}

/** The application's table per group, set up once. */
const apps = new Map<number, CitusApp>();

async function writerFor(group: number, name: string): Promise<{ app: CitusApp; writer: RoutedWriter }> {
  let app = apps.get(group);
  if (app === undefined) {
    app = await CitusApp.detect(memberAddress(leaderOf(0)));
    await app.setup(group, [memberAddress(leaderOf(group))]);
    apps.set(group, app);
  }
  const writer = await RoutedWriter.connect(app, memberAddress(leaderOf(0)), {
    group,
    applicationName: name,
    intervalMs: WRITE_INTERVAL_MS,
  });
  return { app, writer };
}

before(
  async () => {
    // Group 1's members are reached through a proxy, so a test can cut them off for a while.
    running = await startCitusCluster({ groups: GROUPS, proxied: (group) => group === 1 });
    await waitFor(async () => JSON.stringify(await registeredRows()) === JSON.stringify(expected()), {
      timeout: 60_000,
      message: 'every member is registered',
    });
  },
  { timeout: 180_000 },
);

after(async () => {
  if (running !== undefined) await finishCitusCluster(running);
});

test(
  'a 3 s blackhole of a worker primary: routed writes wait and then succeed on the same primary; ' +
    'no failover, no metadata change',
  { timeout: 90_000 },
  async (t) => {
    const primary = leaderOf(1);
    assert.ok(primary.proxy, 'group 1 is reached through a proxy');
    const rowsBefore = await registeredRows();
    const countersBefore = await pauseCounters();
    const { writer } = await writerFor(1, 'blackhole-app');
    writer.start();
    await waitFor(() => writer.acked.length >= 20, { timeout: 15_000, message: 'the application writes' });
    const from = performance.now();
    await primary.proxy.blackhole(3000);
    const ackedAtEnd = writer.acked.length;
    await waitFor(() => writer.acked.length >= ackedAtEnd + 20, {
      timeout: 15_000,
      message: 'writes go on after the blackhole',
    });
    await writer.stop();
    t.diagnostic(
      `longest write wait ${Math.round(writer.longestWait(from, performance.now()))} ms, ${writer.acked.length} writes`,
    );
    assert.deepEqual(writer.errors, [], 'no write failed');
    assert.equal((await waitForLeader(running.cluster, 1, { timeout: 10_000 })).name, primary.name, 'no failover');
    assert.deepEqual(await registeredRows(), rowsBefore, 'pg_dist_node unchanged');
    const counters = await pauseCounters();
    assert.equal(counters.opened, countersBefore.opened + 1, 'the probes paused the group');
    assert.equal(counters.rolledBack, countersBefore.rolledBack + 1, 'the pause ended when the primary answered again');
    assert.equal(counters.committed, countersBefore.committed);
  },
);

test(
  'kill -9 of a worker primary under 50 writes/s: errors only while the probes decide, ' +
    'then writes wait for the new primary; none acknowledged is lost',
  { timeout: 150_000 },
  async (t) => {
    const old = leaderOf(1);
    const next = otherMember(running.cluster, old);
    const { app, writer } = await writerFor(1, 'node-death-app');
    writer.start();
    await waitFor(() => writer.acked.length >= 20, { timeout: 15_000, message: 'the application writes' });
    const killedAt = performance.now();
    await old.killAll();
    running.leaders.set(1, await waitForLeader(running.cluster, 1, { timeout: 60_000 }));
    assert.equal(leaderOf(1).name, next.name);
    await waitFor(async () => primaryRow(await distNodes(leaderOf(0)), 1)?.nodeport === registered(next), {
      timeout: 30_000,
      message: `group 1 names ${next.name}`,
    });
    const ackedThen = writer.acked.length;
    await waitFor(() => writer.acked.length >= ackedThen + 20, {
      timeout: 15_000,
      message: 'writes reach the new primary',
    });
    await writer.stop();
    const waited = writer.ackedSpans.filter(([s, e]) => s >= killedAt && e - s > 1000).length;
    t.diagnostic(
      `${writer.errors.length} errors (${writer.errors.length * WRITE_INTERVAL_MS} ms worth at 50/s), ` +
        `${waited} writes waited over 1 s and then succeeded, ` +
        `longest ${Math.round(writer.longestWait(killedAt, performance.now()))} ms`,
    );
    // The detection window is two 500 ms probe rounds: at most 2 s worth of writes may fail.
    assert.ok(
      writer.errors.length <= 2000 / WRITE_INTERVAL_MS,
      `${writer.errors.length} errors: ${writer.errors.slice(0, 3).join('; ')}`,
    );
    assert.ok(waited > 0, 'writes waited for the new primary instead of failing');
    const have = new Set(await app.rowsOn(1, memberAddress(next)));
    assert.deepEqual(
      writer.acked.filter((id) => !have.has(id)),
      [],
      'every acknowledged write is on the new primary',
    );

    old.start();
    await waitForReplicas(running.cluster, 1, { timeout: 90_000 });
  },
);

test(
  'a worker group nobody can take over: the pause rolls back at its deadline, writes fail as before, ' +
    'and the log says why',
  { timeout: 150_000 },
  async () => {
    const primary = leaderOf(2);
    const replica = otherMember(running.cluster, primary);
    // The replica may not take over: nofailover, applied by reload.
    const config = YAML.parse(readFileSync(replica.configPath, 'utf8')) as { tags: Record<string, unknown> };
    config.tags = { ...config.tags, nofailover: true };
    writeFileSync(replica.configPath, YAML.stringify(config));
    const reloaded = await fetch(`${replica.apiUrl}/reload`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
    assert.ok(reloaded.status === 200 || reloaded.status === 202, `reload answered ${reloaded.status}`);
    await waitFor(async () => (await replica.status())?.tags?.nofailover === true, {
      timeout: 15_000,
      message: 'the replica shows nofailover',
    });

    const before = await pauseCounters();
    const { writer } = await writerFor(2, 'deadline-app');
    writer.start();
    await waitFor(() => writer.acked.length >= 10, { timeout: 15_000, message: 'the application writes' });
    await primary.killAll();
    // ttl 10 + 10 s: the default deadline of a pause the probes opened.
    await waitFor(async () => (await pauseCounters()).rolledBack > before.rolledBack, {
      timeout: 60_000,
      interval: 500,
      message: 'the pause rolled back',
    });
    const errorsAtRollback = writer.errors.length;
    await waitFor(() => writer.errors.length > errorsAtRollback + 5, {
      timeout: 15_000,
      message: 'writes fail again after the deadline',
    });
    await writer.stop();
    assert.match(leaderOf(0).log(200_000), /deadline of 20000 ms reached without a new running leader/);

    primary.start();
    running.leaders.set(2, await waitForLeader(running.cluster, 2, { timeout: 90_000 }));
  },
);
