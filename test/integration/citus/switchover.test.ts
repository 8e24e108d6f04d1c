// Issue 5 with real agents (3 groups x 2, stand-in Citus, ttl 10 / loop_wait 2 / retry_timeout 3):
// an application writing through the coordinator sees no error while `shardherd switchover`
// moves group 1 there and back; a candidate killed right after taking the lock never sends
// after_promote, so the pause rolls back at its deadline while group 2 still changes at once;
// REST refusals answer with their codes and one-line reasons. The primary checker runs throughout.
// Every member has restapi.authentication: the workers' POST /citus and the command carry it.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { Dcs } from '../../../src/dcs/dcs.ts';
import { basicAuthorization } from '../../../src/httpClient.ts';
import type { MemberData } from '../../../src/dcs/types.ts';
import {
  onCleanup,
  useHarness,
  waitFor,
  waitForLeader,
  waitForReplicas,
  type TestCluster,
  type TestMember,
} from '../../harness/index.ts';
import {
  citusClient,
  finishCitusCluster,
  otherMember,
  pollRows,
  primaryRow,
  connectWriter,
  expectedRows,
  memberAddress,
  setupApp,
  startCitusCluster,
  waitForGroupPrimaries,
  TIMING,
  waitForRows,
  watchPrimaryKey,
  groupLeader,
  type CitusApp,
  type RunningCitusCluster,
} from './clusterSteps.ts';

useHarness();

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const run = promisify(execFile);
const GROUPS = [0, 1, 2];
const API_AUTH = { username: 'operator', password: 'op-secret' };

let running: RunningCitusCluster;
let leaders: Map<number, TestMember>;
let app: CitusApp;

const leaderOf = (group: number): TestMember => groupLeader(running, group);

before(
  async () => {
    running = await startCitusCluster({ groups: GROUPS, restapiExtra: { authentication: API_AUTH } });
    leaders = running.leaders;
    await waitForGroupPrimaries(running, GROUPS);
    // The application's table: on the stand-in on group 1's primary (the replica gets it by
    // streaming); real Citus distributes it over the registered groups.
    app = await setupApp(running, 1);
  },
  { timeout: 180_000 },
);

after(async () => {
  if (running !== undefined) await finishCitusCluster(running);
});

async function post(
  member: TestMember,
  path: string,
  body: unknown,
  method = 'POST',
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { authorization: basicAuthorization(API_AUTH) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${member.apiUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  return { status: res.status, text: await res.text() };
}

/**
 * Follows group `group`'s keys from now: when the failover request was written, and the first running primary
 * after it.
 */
async function watchSwitch(
  cluster: TestCluster,
  group: number,
  from: string,
): Promise<{ requested: Promise<number>; running: Promise<{ at: number; member: string }>; close(): void }> {
  const dcs = new Dcs({
    hosts: [cluster.etcd.endpoint],
    namespace: 'service',
    scope: cluster.scope,
    group,
    retryTimeout: TIMING.retryTimeout,
    ttl: TIMING.ttl,
  });
  const forget = onCleanup('close the switch watch', () => dcs.close());
  const view = await dcs.loadCluster({ allGroups: true });
  let requested: (at: number) => void = () => {};
  let ran: (v: { at: number; member: string }) => void = () => {};
  const requestedP = new Promise<number>((r) => (requested = r));
  const runningP = new Promise<{ at: number; member: string }>((r) => (ran = r));
  let asked = false;
  dcs.watch(view.revision, (events) => {
    const at = performance.now();
    for (const e of events) {
      if (e.group !== group || e.type !== 'put' || e.value === null) continue;
      if (e.name === 'failover' && e.value !== '{}') {
        asked = true;
        requested(at);
      }
      if (asked && e.name.startsWith('members/') && e.name !== `members/${from}`) {
        const data = JSON.parse(e.value) as MemberData;
        if (data.role === 'primary' && data.state === 'running') ran({ at, member: e.name.slice('members/'.length) });
      }
    }
  });
  return {
    requested: requestedP,
    running: runningP,
    close: () => {
      dcs.close();
      forget();
    },
  };
}

async function cli(args: string[]): Promise<{ stdout: string; ms: number }> {
  const started = performance.now();
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: REPO_ROOT,
    timeout: 60_000,
  });
  return { stdout, ms: performance.now() - started };
}

async function citusStats(
  coordinator: TestMember,
): Promise<{ open: number[]; held: number[]; committed: number; rolledBack: number; durationsMs: number[] }> {
  const res = await fetch(`${coordinator.apiUrl}/citus`, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200, 'the coordinator leader runs the Citus manager');
  return (
    (await res.json()) as {
      pauses: { open: number[]; held: number[]; committed: number; rolledBack: number; durationsMs: number[] };
    }
  ).pauses;
}

test('REST refusals answer with their code and a one-line reason', { timeout: 60_000 }, async () => {
  const leader = leaderOf(1);
  const replica = otherMember(running.cluster, leader);
  const cases: Array<[string, Promise<{ status: number; text: string }>, number, RegExp]> = [
    [
      'wrong leader',
      post(leader, '/switchover', { leader: replica.name, candidate: leader.name }),
      412,
      new RegExp(`^leader name does not match: ${replica.name} is not the leader \\(${leader.name} is\\)$`),
    ],
    [
      'unknown candidate',
      post(leader, '/switchover', { leader: leader.name, candidate: 'nobody' }),
      412,
      /^candidate nobody does not exist in the group$/,
    ],
    [
      'the leader as candidate',
      post(leader, '/switchover', { leader: leader.name, candidate: leader.name }),
      412,
      new RegExp(`^candidate ${leader.name} is already the leader$`),
    ],
    [
      'switchover without leader',
      post(leader, '/switchover', { candidate: replica.name }),
      400,
      /^Switchover could be performed only from a specific leader$/,
    ],
    [
      'failover without candidate',
      post(leader, '/failover', {}),
      400,
      /^Failover could be performed only to a specific candidate$/,
    ],
    [
      'time without timezone',
      post(leader, '/switchover', { leader: leader.name, scheduled_at: '2099-01-01T00:00:00' }),
      400,
      /^Timezone information is mandatory for the scheduled switchover$/,
    ],
    [
      'time in the past',
      post(leader, '/switchover', { leader: leader.name, scheduled_at: '2000-01-01T00:00:00Z' }),
      422,
      /^Cannot schedule switchover in the past$/,
    ],
    [
      'nothing scheduled to delete',
      post(leader, '/switchover', undefined, 'DELETE'),
      404,
      /^no switchover is scheduled$/,
    ],
    [
      '/citus on a worker member',
      post(leader, '/citus', { type: 'before_demote', group: 1, leader: leader.name, timeout: 10, cooldown: 3 }),
      503,
      /^no Citus manager runs here: this member belongs to worker group 1$/,
    ],
    [
      '/citus from a member that is not the leader',
      post(leaderOf(0), '/citus', { type: 'before_demote', group: 1, leader: replica.name, timeout: 10, cooldown: 3 }),
      409,
      new RegExp(`^${replica.name} is not the leader of group 1 \\(the leader is ${leader.name}\\)$`),
    ],
  ];
  for (const [name, answer, status, message] of cases) {
    const { status: got, text } = await answer;
    assert.equal(got, status, `${name}: ${text}`);
    assert.match(text, message, name);
  }
  // A scheduled switchover is accepted with 202 and can be deleted again.
  const scheduled = await post(leader, '/switchover', {
    leader: leader.name,
    candidate: replica.name,
    scheduled_at: '2099-01-01T00:00:00+00:00',
  });
  assert.deepEqual(scheduled, { status: 202, text: 'Switchover scheduled' });
  assert.deepEqual(await post(leader, '/switchover', undefined, 'DELETE'), {
    status: 200,
    text: 'scheduled switchover deleted',
  });
  // The CLI refuses to act without --force on a non-interactive input, in one line.
  await assert.rejects(
    cli(['switchover', '-c', leader.configPath, '--group', '1']),
    (err: Error & { stderr?: string }) => {
      assert.match(
        err.stderr ?? '',
        new RegExp(
          /^shardherd: not asking on a non-interactive input: /.source +
            /pass --force to switch over group 1 from \S+ to the healthiest replica now\n$/.source,
        ),
      );
      return true;
    },
  );
});

test(
  "ten switchovers of group 1 there and back under routed writes, after_promote racing the old primary's return " +
    'as a replica: no client error, no pause rolled back, every acknowledged row kept',
  { timeout: 300_000 },
  async (t) => {
    const { cluster } = running;
    const statsBefore = await citusStats(leaderOf(0));
    const writer = await connectWriter(running, app, 'switchover-test-app');
    writer.start();
    t.after(() => writer.stop());
    await waitFor(() => writer.acked.length >= 20, { timeout: 10_000, message: 'the application writes' });
    for (let round = 1; round <= 10; round++) {
      const from = leaderOf(1);
      const to = otherMember(cluster, from);
      const watch = await watchSwitch(cluster, 1, from.name);
      const { stdout, ms } = await cli(['switchover', '-c', from.configPath, '--group', '1', '--force']);
      const requested = await watch.requested;
      const ran = await watch.running;
      watch.close();
      assert.equal(stdout.trim(), `Successfully switched over to "${to.name}"`);
      assert.equal(ran.member, to.name);
      const switchMs = ran.at - requested;
      // Writes keep going a moment after the new primary runs, so the pause is inside the window.
      const before = writer.acked.length;
      await waitFor(() => writer.acked.length >= before + 20, { timeout: 15_000, message: `writes reach ${to.name}` });
      const pause = writer.longestWait(requested, performance.now());
      t.diagnostic(
        `round ${round}: ${from.name} -> ${to.name}: ` +
          `switchover ${Math.round(switchMs)} ms (failover key to new primary running), ` +
          `CLI ${Math.round(ms)} ms, longest write wait ${Math.round(pause)} ms`,
      );
      leaders.set(1, to);
      // The old leader must stream from the new one before it can be switched back to.
      await waitForReplicas(cluster, 1, { timeout: 30_000 });
    }
    await writer.stop();
    assert.deepEqual(writer.errors, [], 'no client errors');
    const have = new Set(await app.rowsOn(1, memberAddress(leaderOf(1))));
    const missing = writer.acked.filter((id) => !have.has(id));
    assert.deepEqual(missing, [], `every acknowledged row is on the final primary (${writer.acked.length} rows)`);
    const stats = await citusStats(leaderOf(0));
    t.diagnostic(
      `coordinator pauses: committed ${stats.committed}, rolled back ${stats.rolledBack}, ` +
        `durations ${stats.durationsMs.join(', ')} ms`,
    );
    assert.equal(stats.committed - statsBefore.committed, 10, 'every pause ended by after_promote');
    assert.equal(stats.rolledBack, statsBefore.rolledBack, 'no pause rolled back');
    // The old primary is registered again as the secondary once it streams and Citus synced.
    await waitForRows(
      leaderOf(0),
      expectedRows(GROUPS.map((g) => ({ leader: leaderOf(g), secondaries: [otherMember(cluster, leaderOf(g))] }))),
    );
  },
);

test(
  'a candidate killed right after taking the lock: the pause rolls back at its deadline, group 2 changes meanwhile, ' +
    'metadata is right once a leader runs',
  { timeout: 180_000 },
  async (t) => {
    const { cluster } = running;
    const from = leaderOf(1);
    const to = otherMember(cluster, from);
    const coordinator = leaderOf(0);
    const before = await citusStats(coordinator);
    const client = await citusClient(coordinator);

    // Stop the candidate the moment the leader key names it, before its first cycle as primary.
    const dcs = new Dcs({
      hosts: [cluster.etcd.endpoint],
      namespace: 'service',
      scope: cluster.scope,
      group: 1,
      retryTimeout: TIMING.retryTimeout,
      ttl: TIMING.ttl,
    });
    onCleanup('close the leader watch', () => dcs.close());
    const view = await dcs.loadCluster();
    let frozen: (at: number) => void = () => {};
    const frozenAt = new Promise<number>((r) => (frozen = r));
    dcs.watch(view.revision, (events) => {
      if (events.some((e) => e.group === 1 && e.name === 'leader' && e.type === 'put' && e.value === to.name)) {
        to.pause();
        frozen(performance.now());
      }
    });
    await waitForReplicas(cluster, 1, { timeout: 30_000 });
    await waitForReplicas(cluster, 2, { timeout: 30_000 });
    const answer = post(from, '/switchover', { leader: from.name, candidate: to.name });
    await Promise.race([
      frozenAt,
      answer.then((r) =>
        Promise.reject(new Error(`the switchover ended before ${to.name} took the lock: ${r.status} ${r.text}`)),
      ),
    ]);
    await to.killAll();
    const opened = await waitFor(
      async () => ((await citusStats(coordinator)).held.includes(1) ? performance.now() : undefined),
      {
        timeout: 5_000,
        interval: 20,
        message: 'group 1 is paused on the coordinator',
      },
    );

    // While group 1 is held: a switchover of group 2 is registered within 1 s of its new primary running.
    const g2from = leaderOf(2);
    const g2to = otherMember(cluster, g2from);
    const primaryKey = await watchPrimaryKey(cluster, 2, g2from.name);
    const g2answer = await post(g2from, '/switchover', { leader: g2from.name, candidate: g2to.name });
    assert.equal(g2answer.status, 200, g2answer.text);
    const seen = await primaryKey.seen;
    primaryKey.close();
    const repointed = await pollRows(client, (rows) => primaryRow(rows, 2)?.nodeport === g2to.pgPort, {
      timeout: 10_000,
      message: 'group 2 repointed',
    });
    assert.ok((await citusStats(coordinator)).held.includes(1), 'group 1 was still paused while group 2 changed');
    t.diagnostic(`group 2 repointed ${Math.round(repointed.at - seen.at)} ms after its new primary ran, group 1 held`);
    assert.ok(
      repointed.at - seen.at <= 1000,
      `group 2 registered ${Math.round(repointed.at - seen.at)} ms after its primary ran`,
    );
    leaders.set(2, g2to);

    // The pause ends by rollback at its deadline (ttl = 10 s after before_demote).
    const ended = await waitFor(
      async () => {
        const s = await citusStats(coordinator);
        return s.rolledBack > before.rolledBack ? s : undefined;
      },
      { timeout: 20_000, interval: 50, message: 'group 1 pause rolled back' },
    );
    assert.ok(ended && opened !== undefined);
    const duration = ended.durationsMs.at(-1) ?? 0;
    t.diagnostic(
      `group 1 pause rolled back after ${duration} ms (deadline ${TIMING.ttl * 1000} ms); ` +
        `first seen held ${Math.round(opened - (await frozenAt))} ms after the lock moved`,
    );
    assert.equal(
      ended.committed,
      before.committed + 1,
      'only group 2 committed a pause: the killed candidate never sent after_promote',
    );
    assert.ok(
      duration >= TIMING.ttl * 1000 && duration <= TIMING.ttl * 1000 + 1000,
      `rolled back ${duration} ms after the pause began`,
    );
    const reply = await answer;
    t.diagnostic(`switchover answer: ${reply.status} ${reply.text}`);

    // A leader runs again once the killed member is back; the metadata follows.
    to.start();
    const leader = await waitForLeader(cluster, 1, { timeout: 90_000 });
    leaders.set(1, leader);
    await pollRows(client, (rows) => primaryRow(rows, 1)?.nodeport === leader.pgPort, {
      timeout: 30_000,
      message: `group 1's row names ${leader.name}`,
    });
  },
);
