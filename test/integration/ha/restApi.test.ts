// The REST API of a real three-member group as HAProxy and operators use it: health checks by
// role and lag (GET and OPTIONS), /patroni, patronictl and `shardherd list` listings, and a
// graceful shutdown of the leader that hands over well before the lease would expire.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  readLeaderKey,
  startCluster,
  startPrimaryChecker,
  waitForSamples,
  tableRows,
  tempDir,
  useHarness,
  waitFor,
  waitForLeader,
  waitForReplicas,
  type PrimaryChecker,
  type TestCluster,
  type TestMember,
} from '../../harness/index.ts';

useHarness();

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PATRONICTL = '/usr/bin/patronictl';
const TIMING = { ttl: 10, loopWait: 1, retryTimeout: 4 };
const run = promisify(execFile);

let cluster: TestCluster;
let checker: PrimaryChecker;
let leader: TestMember;
let replicas: TestMember[];
/** A config with only what a listing needs: scope, namespace and etcd. */
let ctlConfig: string;

/** The status code of a request with `method` (HEAD and OPTIONS answer like GET), 0 without an answer. */
async function code(member: TestMember, path: string, method = 'GET'): Promise<number> {
  try {
    const res = await fetch(`${member.apiUrl}${path}`, { method, signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}

async function codes(path: string, method = 'GET'): Promise<Record<string, number>> {
  const all = await Promise.all(cluster.members.map(async (m) => [m.name, await code(m, path, method)] as const));
  return Object.fromEntries(all);
}

function expected(ok: TestMember[], okCode: number, otherCode: number): Record<string, number> {
  return Object.fromEntries(cluster.members.map((m) => [m.name, ok.includes(m) ? okCode : otherCode]));
}

type ListedMember = { Host: string; Role: string; State: string; TL: string };

function byMember(rows: Array<Record<string, string>>): Record<string, ListedMember> {
  return Object.fromEntries(rows.map((r) => [r.Member!, { Host: r.Host!, Role: r.Role!, State: r.State!, TL: r.TL! }]));
}

/** Patroni 3.0's State column is the member's `state` (later versions say `streaming` for replicas). */
function expectedListing(): Record<string, ListedMember> {
  return Object.fromEntries(
    cluster.members.map((m) => [
      m.name,
      { Host: `127.0.0.1:${m.pgPort}`, Role: m === leader ? 'Leader' : 'Replica', State: 'running', TL: '1' },
    ]),
  );
}

before(async () => {
  cluster = await startCluster({ membersPerGroup: 3, ...TIMING });
  checker = startPrimaryChecker(cluster);
  cluster.startAll();
  leader = await waitForLeader(cluster, null, { timeout: 60_000 });
  replicas = await waitForReplicas(cluster, null, { timeout: 60_000 });
  await leader.query('create table t (id int, pad text)');
  const dir = await tempDir('restapi-ctl');
  ctlConfig = join(dir, 'ctl.yml');
  // patronictl 3.0 has no etcd3:// URL form: hosts are host:port.
  await writeFile(
    ctlConfig,
    `scope: ${cluster.scope}\nnamespace: /service/\netcd3:\n  hosts: 127.0.0.1:${cluster.etcd.clientPort}\n`,
  );
});

after(async () => {
  await checker?.stop();
});

test('GET and OPTIONS /primary answer 200 on the leader only, /replica 200 on the replicas only', async () => {
  for (const method of ['GET', 'OPTIONS']) {
    assert.deepEqual(await codes('/primary', method), expected([leader], 200, 503), `${method} /primary`);
    assert.deepEqual(await codes('/replica', method), expected(replicas, 200, 503), `${method} /replica`);
  }
  assert.deepEqual(await codes('/primary', 'HEAD'), expected([leader], 200, 503), 'HEAD /primary');
});

test('/health answers 200 on every running member', async () => {
  assert.deepEqual(await codes('/health'), expected([...cluster.members], 200, 0));
});

test('/patroni reports role, state, timeline and WAL positions', async () => {
  const lead = await leader.status();
  assert.ok(lead !== null);
  assert.equal(lead.role, 'primary');
  assert.equal(lead.state, 'running');
  assert.equal(lead.timeline, 1);
  assert.ok(lead.xlog !== undefined && 'location' in lead.xlog, 'a primary reports xlog.location');
  assert.equal(typeof lead.xlog.location, 'number');
  assert.equal(lead.patroni.name, leader.name);
  assert.equal(lead.patroni.scope, cluster.scope);
  for (const replica of replicas) {
    const s = await replica.status();
    assert.ok(s !== null);
    assert.equal(s.role, 'replica', replica.name);
    assert.equal(s.state, 'running', replica.name);
    assert.equal(s.timeline, 1, replica.name);
    assert.equal(s.replication_state, 'streaming', replica.name);
    assert.ok(s.xlog !== undefined && 'received_location' in s.xlog, `${replica.name} reports replica positions`);
    assert.equal(typeof s.xlog.received_location, 'number', replica.name);
    assert.equal(typeof s.xlog.replayed_location, 'number', replica.name);
  }
});

test('/replica?lag=1 answers 503 on a replica whose replay is paused behind the leader', async () => {
  const [paused, other] = replicas as [TestMember, TestMember];
  await paused.query('select pg_wal_replay_pause()');
  try {
    await leader.query("insert into t select g, repeat('x', 100) from generate_series(1, 1000) g");
    // The leader publishes its position with its next lock refresh; the other replica catches up.
    await waitFor(
      async () => (await code(paused, '/replica?lag=1')) === 503 && (await code(other, '/replica?lag=1')) === 200,
      { timeout: 20_000, message: `/replica?lag=1: 503 on ${paused.name} (paused), 200 on ${other.name}` },
    );
    // Without a lag limit the paused replica is still a replica.
    assert.equal(await code(paused, '/replica'), 200);
  } finally {
    await paused.query('select pg_wal_replay_resume()');
  }
  await waitFor(async () => (await code(paused, '/replica?lag=1')) === 200, {
    timeout: 20_000,
    message: `/replica?lag=1 answers 200 on ${paused.name} once replay resumed`,
  });
});

test('patronictl 3.0.2 lists the leader and the running replicas with their addresses on timeline 1', async () => {
  let output = '';
  await waitFor(
    async () => {
      output = (await run(PATRONICTL, ['-c', ctlConfig, 'list', cluster.scope], { timeout: 30_000 })).stdout;
      return JSON.stringify(byMember(tableRows(output))) === JSON.stringify(expectedListing());
    },
    { timeout: 15_000, message: 'patronictl list shows the group' },
  ).catch(() => undefined);
  assert.match(output, new RegExp(`Cluster: ${cluster.scope}`));
  assert.deepEqual(byMember(tableRows(output)), expectedListing(), output);
});

test(
  'shardherd list shows the leader and the running replicas with their addresses on timeline 1',
  { skip: !existsSync(join(REPO_ROOT, 'src/cli/list.ts')) && 'src/cli/list.ts does not exist yet' },
  async () => {
    let output = '';
    await waitFor(
      async () => {
        output = (
          await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'list', '-c', ctlConfig], {
            cwd: REPO_ROOT,
            timeout: 30_000,
          })
        ).stdout;
        return JSON.stringify(byMember(tableRows(output))) === JSON.stringify(expectedListing());
      },
      { timeout: 15_000, message: 'shardherd list shows the group' },
    ).catch(() => undefined);
    assert.match(output, new RegExp(cluster.scope));
    assert.deepEqual(byMember(tableRows(output)), expectedListing(), output);
  },
);

test('SIGTERM to the leader stops PostgreSQL, frees the key at once; a replica leads well before ttl', async (t) => {
  const old = leader;
  const stoppedAt = Date.now();
  await old.stop();
  const exitedAfterMs = Date.now() - stoppedAt;
  // The agent exits only after its last cycle: PostgreSQL is down and the key is not its own.
  assert.equal(old.postmasterPid(), null, `${old.name}'s PostgreSQL is stopped`);
  await assert.rejects(old.query('select 1'), `${old.name} accepts no connections`);
  assert.notEqual(
    await readLeaderKey(cluster.etcd, cluster.scope, null),
    old.name,
    'the key was released, not left to expire',
  );

  const next = await waitForLeader(cluster, null, { timeout: TIMING.ttl * 1000 });
  const tookOverAfterMs = Date.now() - stoppedAt;
  t.diagnostic(`agent exited ${exitedAfterMs} ms after SIGTERM; ${next.name} leads after ${tookOverAfterMs} ms`);
  assert.ok(replicas.includes(next));
  // A lease left to expire would take ttl from the last refresh; the release must beat it clearly.
  assert.ok(
    tookOverAfterMs < TIMING.ttl * 1000 - 2000,
    `${next.name} leads ${tookOverAfterMs} ms after SIGTERM (agent exited after ${exitedAfterMs} ms); ` +
      `ttl is ${TIMING.ttl} s`,
  );
  assert.equal(await readLeaderKey(cluster.etcd, cluster.scope, null), next.name);
  await next.query("insert into t values (-1, 'after the handover')");
});

test('no two members were writable primaries at once', async () => {
  await waitForSamples(checker, 51);
  const report = await checker.stop();
  assert.ok(report.samples > 50, `the checker took ${report.samples} samples`);
  assert.deepEqual(report.violations, []);
});
