// Who may take the leader key when the leader dies: among equal replicas the higher
// failover_priority wins; a replica further behind than maximum_lag_on_failover and a member
// tagged nofailover never take it, even when nobody else is left to.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { keyLayout, KEY } from '../../../src/dcs/keys.ts';
import { errorText } from '../../../src/errors.ts';
import {
  readLeaderKey,
  startCluster,
  startPrimaryChecker,
  waitForSamples,
  useHarness,
  waitFor,
  waitForLeader,
  waitForReplicas,
  type PrimaryChecker,
  type TestCluster,
  type TestMember,
} from '../../harness/index.ts';
import { writable } from './helpers.ts';

useHarness();

const TIMING = { ttl: 10, loopWait: 1, retryTimeout: 4 };
/** The harness's maximum_lag_on_failover. */
const MAX_LAG = 1024 * 1024;

let cluster: TestCluster;
let checker: PrimaryChecker;
let m1: TestMember;
let m2: TestMember;
let m3: TestMember;
let m4: TestMember;

/** What one observation window saw of each member. */
interface Window {
  /** Leader key values seen during the window (null: no key). */
  leaderKeys: Set<string | null>;
  /** Members seen as writable primaries. */
  writable: Set<string>;
  /** Milliseconds for which the leader key was observed to be absent. */
  unlockedMs: number;
}
let lagWindow: Window;
/** Agent log sizes when the lagging window began: its reasons are read from there on. */
let logOffsets: Map<string, number>;

function logSince(member: TestMember): string {
  return readFileSync(member.logFile, 'utf8').slice(logOffsets.get(member.name) ?? 0);
}

async function withGroupDetail<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    throw new Error(`${errorText(err)}\n${await cluster.describeGroup(null, 3000)}`, { cause: err });
  }
}

/** The group's `status` key (`{"optime": ...}`), as the leader race reads the last leader position. */
async function statusOptime(): Promise<number | null> {
  const client = new Etcd3({ hosts: cluster.etcd.endpoint });
  try {
    const raw = await client
      .get(keyLayout({ namespace: 'service', scope: cluster.scope, group: null }).key(KEY.status))
      .string();
    if (raw === null) return null;
    const optime = (JSON.parse(raw) as { optime?: unknown }).optime;
    return typeof optime === 'number' ? optime : null;
  } finally {
    client.close();
  }
}

/** max(received, replayed) as a replica publishes it: the position its leader race compares. */
async function replicaPosition(member: TestMember): Promise<number> {
  const status = await member.status();
  const xlog = status?.xlog;
  if (xlog === undefined || !('received_location' in xlog))
    throw new Error(`${member.name} reports no replica position`);
  return Math.max(Number(xlog.received_location ?? 0), Number(xlog.replayed_location ?? 0));
}

async function primaryPosition(member: TestMember): Promise<number> {
  const r = await member.query<{ lsn: string }>("select (pg_current_wal_lsn() - '0/0')::bigint::text as lsn");
  return Number(r.rows[0]!.lsn);
}

before(async () => {
  cluster = await startCluster({
    membersPerGroup: 4,
    ...TIMING,
    // m2 sorts before m3 by name, so only failover_priority can make m3 win a tie.
    tags: (_group, index) => [{}, { failover_priority: 1 }, { failover_priority: 2 }, { nofailover: true }][index]!,
  });
  [m1, m2, m3, m4] = cluster.members as [TestMember, TestMember, TestMember, TestMember];
  checker = startPrimaryChecker(cluster);
  // m1 first, so that it is the one that bootstraps and leads.
  m1.start();
  const first = await waitForLeader(cluster, null, { timeout: 60_000 });
  assert.equal(first.name, 'm1');
  m2.start();
  m3.start();
  m4.start();
  await waitForReplicas(cluster, null, { timeout: 90_000, count: 3 });
  await m1.query('create table big (id int, pad text)');
});

after(async () => {
  await checker?.stop();
});

test('among replicas at the same position the higher failover_priority takes the lock', async () => {
  const target = await primaryPosition(m1);
  // Equal positions: every replica holds everything m1 wrote before it dies.
  await withGroupDetail(
    waitFor(
      async () => {
        const positions = await Promise.all([m2, m3, m4].map(replicaPosition));
        return positions.every((p) => p >= target);
      },
      { timeout: 20_000, message: 'all replicas reach the primary position' },
    ),
  );
  await m1.killAll();
  const leader = await waitForLeader(cluster, null, { timeout: 30_000 });
  assert.equal(leader.name, 'm3', 'm3 (failover_priority 2) wins over m2 (failover_priority 1)');
  assert.equal(await readLeaderKey(cluster.etcd, cluster.scope, null), 'm3');
});

test('a replica lagging more than maximum_lag_on_failover never takes the lock', async () => {
  // m2 and m4 follow m3 now.
  await withGroupDetail(
    waitFor(
      async () => {
        const statuses = await Promise.all(
          [m2, m4].map((m) =>
            m.query<{ port: number }>(
              "select sender_port as port from pg_stat_wal_receiver where status = 'streaming'",
            ),
          ),
        );
        return statuses.every((s) => s.rows[0]?.port === m3.pgPort);
      },
      { timeout: 45_000, message: 'm2 and m4 stream from m3' },
    ),
  );

  // Freeze m2's WAL receiver: it neither receives nor (having nothing new) replays from now on.
  // Its leader race compares max(received, replayed), so both must stand still.
  const receiver = await m2.query<{ pid: number }>('select pid from pg_stat_wal_receiver');
  const receiverPid = receiver.rows[0]!.pid;
  process.kill(receiverPid, 'SIGSTOP');
  try {
    const frozenAt = await replicaPosition(m2);
    await m3.query("insert into big select g, repeat('x', 1000) from generate_series(1, 4000) g");
    const written = await primaryPosition(m3);
    assert.ok(written - frozenAt > 2 * MAX_LAG, `m3 wrote ${written - frozenAt} bytes past m2's position`);
    // The last leader position in etcd (written with every lock refresh) shows the lag, and
    // m4 is up to date: it would be a perfect candidate but for its nofailover tag.
    await withGroupDetail(
      waitFor(async () => ((await statusOptime()) ?? 0) >= written && (await replicaPosition(m4)) >= written, {
        timeout: 20_000,
        message: 'the status optime and m4 reach the written position',
      }),
    );
    assert.equal(await replicaPosition(m2), frozenAt, 'm2 received nothing new');

    logOffsets = new Map([m2, m4].map((m) => [m.name, statSync(m.logFile).size]));
    await m3.killAll();
    lagWindow = await observeLeaderlessWindow();
  } finally {
    process.kill(receiverPid, 'SIGCONT');
  }

  assert.ok(!lagWindow.leaderKeys.has('m2'), 'm2 never holds the leader key');
  assert.ok(!lagWindow.writable.has('m2'), 'm2 never becomes a writable primary');
  assert.match(logSince(m2), /over maximum_lag_on_failover/, 'm2 states the lag as its reason to stay a replica');
});

test('a member tagged nofailover never takes the lock, even as the only up-to-date replica', () => {
  // Same window as the test above: m4 held everything m3 wrote.
  assert.ok(lagWindow !== undefined, 'the leaderless window was observed');
  assert.ok(!lagWindow.leaderKeys.has('m4'), 'm4 never holds the leader key');
  assert.ok(!lagWindow.writable.has('m4'), 'm4 never becomes a writable primary');
  assert.match(logSince(m4), /tagged nofailover/, 'm4 states its tag as its reason to stay a replica');
});

test('no two members were writable primaries at once', async () => {
  await waitForSamples(checker, 51);
  const report = await checker.stop();
  assert.ok(report.samples > 50, `the checker took ${report.samples} samples`);
  assert.deepEqual(report.violations, []);
});

/**
 * After the leader's death: polls until its key has expired and then for a further stretch of
 * several loops, recording every key value and writable member seen. The fixed length is the
 * point: it is how long nobody must take over, not a wait for something to happen.
 */
async function observeLeaderlessWindow(): Promise<Window> {
  const window: Window = { leaderKeys: new Set(), writable: new Set(), unlockedMs: 0 };
  const started = Date.now();
  // The dead leader's lease runs out within ttl; then several more cycles for the others' races.
  const requiredUnlockedMs = 6 * TIMING.loopWait * 1000;
  const deadline = started + (TIMING.ttl + 15) * 1000;
  let unlockedSince: number | null = null;
  for (;;) {
    const [key, w2, w4] = await Promise.all([
      readLeaderKey(cluster.etcd, cluster.scope, null),
      writable(m2),
      writable(m4),
    ]);
    window.leaderKeys.add(key);
    if (w2) window.writable.add('m2');
    if (w4) window.writable.add('m4');
    const now = Date.now();
    if (key === null) unlockedSince ??= now;
    else unlockedSince = null;
    window.unlockedMs = unlockedSince === null ? 0 : now - unlockedSince;
    if (window.unlockedMs >= requiredUnlockedMs) break;
    if (now > deadline || (key !== null && key !== 'm3')) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.ok(
    window.unlockedMs >= requiredUnlockedMs,
    `the group stays without a leader for ${requiredUnlockedMs} ms after the key expired ` +
      `(keys seen: ${[...window.leaderKeys].join(', ')})\n${await cluster.describeGroup(null, 3000)}`,
  );
  // The key lived up to ttl after the last refresh before the kill, then the required stretch.
  const minimumMs = (TIMING.ttl + 5 * TIMING.loopWait - 1) * 1000;
  assert.ok(Date.now() - started >= minimumMs, `the window lasted at least ${minimumMs} ms`);
  return window;
}
