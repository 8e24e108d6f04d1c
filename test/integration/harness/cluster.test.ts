// Proves the cluster harness: generated member configurations load cleanly, nothing starts
// before asked, the two-primaries checker tells one writable primary per group from two, and
// (once the agent command exists) a real cluster elects one leader and survives a node death.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../src/config/load.ts';
import {
  createPostgres,
  freePort,
  isAlive,
  procInfo,
  readLeaderKey,
  startCluster,
  startEtcd,
  startPrimaryChecker,
  waitForSamples,
  unprivilegedUser,
  useHarness,
  waitFor,
  waitForLeader,
  waitForReplicas,
  type PrimaryCheckTarget,
} from '../../harness/index.ts';

useHarness();

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The agent command is written separately; the end-to-end test runs once the CLI lists it. A
 * CLI that does not start at all is not a reason to skip: the test then runs and shows why.
 */
function agentCommandMissing(): string | false {
  const help = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--help'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  const listed = /^\s+agent\b/m.test(help.stdout);
  return help.status === 0 && !listed ? 'the `shardherd agent` command does not exist yet' : false;
}

test('member configurations of a cluster without Citus load with no problems and no warnings', async () => {
  const cluster = await startCluster({ membersPerGroup: 3 });
  assert.deepEqual(
    cluster.members.map((m) => [m.name, m.group]),
    [
      ['m1', null],
      ['m2', null],
      ['m3', null],
    ],
  );
  for (const member of cluster.members) {
    // An empty environment: SHARDHERD_* variables of the test run must not change what is checked.
    const { config, warnings } = loadConfig(member.configPath, {});
    assert.deepEqual(warnings, []);
    assert.equal(config.scope, cluster.scope);
    assert.equal(config.namespace, 'service');
    assert.equal(config.name, member.name);
    assert.equal(config.citus, null);
    assert.deepEqual(config.etcd3.hosts, [`127.0.0.1:${cluster.etcd.clientPort}`]);
    assert.deepEqual(config.restapi.listen, { host: '127.0.0.1', port: member.apiPort });
    assert.deepEqual(config.restapi.connect_address, { host: '127.0.0.1', port: member.apiPort });
    assert.deepEqual(config.postgresql.listen, { hosts: ['127.0.0.1'], port: member.pgPort });
    assert.deepEqual(config.postgresql.connect_address, { host: '127.0.0.1', port: member.pgPort });
    assert.equal(config.postgresql.data_dir, join(member.dir, 'data'));
    assert.equal(config.postgresql.data_dir, member.dataDir);
    assert.equal(config.postgresql.pgpass, join(member.dir, 'pgpass'));
    assert.equal(config.postgresql.parameters.unix_socket_directories, member.dir);
    assert.equal(config.postgresql.authentication.superuser.password, 'super');
    assert.equal(config.postgresql.authentication.replication.username, 'replicator');
    assert.equal(config.postgresql.authentication.rewind?.username, 'rewinder');
    assert.equal(config.bootstrap.dcs.ttl, 10);
    assert.equal(config.bootstrap.dcs.loop_wait, 1);
    assert.equal(config.bootstrap.dcs.retry_timeout, 4);
    assert.equal(config.bootstrap.dcs.postgresql.use_pg_rewind, true);
    assert.equal(config.bootstrap.dcs.postgresql.use_slots, true);
    assert.deepEqual(config.bootstrap.dcs.postgresql.parameters, {
      max_connections: 50,
      shared_buffers: '16MB',
      wal_keep_size: '128MB',
    });
    assert.deepEqual(config.bootstrap.initdb, [{ encoding: 'UTF8' }, { locale: 'C' }]);
    assert.equal(config.log.level, 'debug');
  }
});

test('member configurations of a Citus cluster name their group and the citus database', async () => {
  const cluster = await startCluster({ groups: [0, 1, 2], membersPerGroup: 2 });
  assert.deepEqual(
    cluster.members.map((m) => m.name),
    ['g0-m1', 'g0-m2', 'g1-m1', 'g1-m2', 'g2-m1', 'g2-m2'],
  );
  assert.deepEqual(
    cluster.group(1).map((m) => m.name),
    ['g1-m1', 'g1-m2'],
  );
  assert.equal(cluster.member('g2-m2').group, 2);
  assert.throws(() => cluster.member('m1'), /no member m1/);
  for (const member of cluster.members) {
    const { config, warnings } = loadConfig(member.configPath, {});
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.citus, { group: member.group, database: 'citus' });
    // One scope for all groups: the group is a key segment below it, as in Patroni.
    assert.equal(config.scope, cluster.scope);
  }
});

test('options reach the configuration: timing, pg_rewind, tags and extra dynamic settings', async () => {
  const cluster = await startCluster({
    groups: [1],
    membersPerGroup: 2,
    scope: 'options-check',
    ttl: 20,
    loopWait: 2,
    retryTimeout: 5,
    usePgRewind: false,
    tags: (group, index) => ({ nofailover: index === 1, zone: `zone-${group}-${index}`, nosync: undefined }),
    // `off` must survive the YAML 1.1 round trip as a string, not turn into a boolean.
    dcsExtra: { primary_start_timeout: 0, postgresql: { parameters: { synchronous_commit: 'off' } } },
  });
  const [first, second] = cluster.members.map((m) => loadConfig(m.configPath, {}).config);
  assert.ok(first && second);
  assert.equal(first.scope, 'options-check');
  assert.deepEqual(
    [first.bootstrap.dcs.ttl, first.bootstrap.dcs.loop_wait, first.bootstrap.dcs.retry_timeout],
    [20, 2, 5],
  );
  assert.equal(first.bootstrap.dcs.primary_start_timeout, 0);
  assert.equal(first.bootstrap.dcs.postgresql.use_pg_rewind, false);
  // Merged, not replaced: the harness parameters stay next to the extra one.
  assert.deepEqual(first.bootstrap.dcs.postgresql.parameters, {
    max_connections: 50,
    shared_buffers: '16MB',
    wal_keep_size: '128MB',
    synchronous_commit: 'off',
  });
  assert.equal(first.tags.nofailover, false);
  assert.equal(first.tags.zone, 'zone-1-0');
  assert.equal(second.tags.nofailover, true);
  assert.equal(second.tags.zone, 'zone-1-1');
  // An undefined tag is left out, so the loader's default applies.
  assert.doesNotMatch(readFileSync(cluster.members[0]?.configPath ?? '', 'utf8'), /nosync/);
});

test('every port of a cluster is distinct, also across clusters sharing one etcd', async () => {
  const etcd = await startEtcd();
  const a = await startCluster({ etcd, groups: [0, 1], membersPerGroup: 3 });
  const b = await startCluster({ etcd, membersPerGroup: 3 });
  assert.equal(a.etcd, etcd);
  assert.notEqual(a.scope, b.scope);
  const ports = [etcd.clientPort, etcd.peerPort, ...[...a.members, ...b.members].flatMap((m) => [m.pgPort, m.apiPort])];
  assert.equal(new Set(ports).size, ports.length, `ports repeat: ${ports.join(', ')}`);
});

test('startCluster starts no agent and no PostgreSQL, and leaves member dirs to the agent user', async () => {
  const cluster = await startCluster({ membersPerGroup: 2 });
  const user = unprivilegedUser();
  for (const member of cluster.members) {
    assert.equal(member.running, false);
    assert.equal(member.agent, undefined);
    assert.equal(member.postmasterPid(), null);
    assert.equal(await member.health('/primary'), 0);
    assert.equal(await member.status(), null);
    await assert.rejects(member.query('select 1'));
    if (user !== null) assert.equal(statSync(member.dir).uid, user.uid);
  }
  assert.equal(await readLeaderKey(cluster.etcd, cluster.scope, null), null);
});

test('the checker reports two writable servers of one group as two primaries', async () => {
  const [a, b] = await Promise.all([createPostgres(), createPostgres()]);
  const checker = startPrimaryChecker(
    {
      members: [
        { name: 'a', group: 1, pgPort: a.port },
        { name: 'b', group: 1, pgPort: b.port },
      ],
    },
    { intervalMs: 20 },
  );
  await waitForSamples(checker, 3);
  const report = await checker.stop();
  assert.ok(report.samples >= 3);
  assert.ok(report.violations.length > 0);
  for (const violation of report.violations) assert.match(violation, /group 1: a, b writable primaries at once$/);
});

test('the checker reports nothing for one writable server, nor for writable servers of different groups', async () => {
  const [a, b] = await Promise.all([createPostgres(), createPostgres()]);
  const checker = startPrimaryChecker(
    {
      members: [
        { name: 'a', group: 1, pgPort: a.port },
        { name: 'b', group: 2, pgPort: b.port },
        // Nothing listens here: a refused connection is "not a primary", not an error.
        { name: 'gone', group: 1, pgPort: await freePort() },
      ],
    },
    { intervalMs: 20 },
  );
  await waitForSamples(checker, 3);
  const report = await checker.stop();
  assert.ok(report.samples >= 3);
  assert.deepEqual(report.violations, []);
});

test('the checker does not count a read-only server as a primary', async () => {
  const [a, readOnly] = await Promise.all([
    createPostgres(),
    createPostgres({ parameters: { default_transaction_read_only: 'on' } }),
  ]);
  const checker = startPrimaryChecker({
    members: [
      { name: 'a', group: null, pgPort: a.port },
      { name: 'read-only', group: null, pgPort: readOnly.port },
    ],
  });
  await waitForSamples(checker, 3);
  assert.deepEqual((await checker.stop()).violations, []);
});

test('the checker notices a second primary that appears while it runs, and not before', async () => {
  const [a, b] = await Promise.all([
    createPostgres(),
    createPostgres({ parameters: { default_transaction_read_only: 'on' } }),
  ]);
  const checker = startPrimaryChecker(
    {
      members: [
        { name: 'a', group: null, pgPort: a.port },
        { name: 'b', group: null, pgPort: b.port },
      ],
    },
    { intervalMs: 20 },
  );
  await waitForSamples(checker, 3);
  assert.deepEqual(checker.current().violations, []);
  await b.query('alter system set default_transaction_read_only = off');
  await b.query('select pg_reload_conf()');
  await waitFor(() => checker.current().violations.length > 0, {
    timeout: 20_000,
    interval: 50,
    message: 'the checker reports the second primary',
  });
  const report = await checker.stop();
  assert.match(report.violations[0] ?? '', /the cluster: a, b writable primaries at once/);
});

test('the checker also watches members added to the cluster while it runs', async () => {
  const [a, b] = await Promise.all([createPostgres(), createPostgres()]);
  const members: PrimaryCheckTarget[] = [{ name: 'a', group: 3, pgPort: a.port }];
  const checker = startPrimaryChecker({ members }, { intervalMs: 20 });
  await waitForSamples(checker, 3);
  assert.deepEqual(checker.current().violations, []);
  members.push({ name: 'b', group: 3, pgPort: b.port });
  await waitFor(() => checker.current().violations.length > 0, {
    timeout: 20_000,
    interval: 50,
    message: 'the checker reports the added member as a second primary',
  });
  assert.match((await checker.stop()).violations[0] ?? '', /group 3: a, b writable primaries at once/);
});

test(
  'a started cluster elects one leader, streams to the others, and fails over when the leader node dies',
  { skip: agentCommandMissing(), timeout: 240_000 },
  async () => {
    const cluster = await startCluster({ membersPerGroup: 3 });
    const checker = startPrimaryChecker(cluster);
    cluster.startAll();
    const leader = await waitForLeader(cluster, null, { timeout: 90_000 });
    const replicas = await waitForReplicas(cluster, null, { timeout: 90_000 });
    assert.deepEqual(
      replicas.map((m) => m.name).sort(),
      cluster.members
        .filter((m) => m !== leader)
        .map((m) => m.name)
        .sort(),
    );
    assert.equal(await readLeaderKey(cluster.etcd, cluster.scope, null), leader.name);
    assert.equal((await leader.status())?.role, 'primary');

    const postmaster = leader.postmasterPid();
    assert.ok(postmaster !== null, 'the leader has a running postmaster');
    // The postmaster is the agent's child, so a node death takes it along.
    assert.ok(leader.agent?.treePids().includes(postmaster));
    await leader.killAll();
    assert.equal(isAlive(postmaster), false);
    assert.equal(leader.running, false);

    const next = await waitForLeader(cluster, null, { timeout: 60_000 });
    assert.notEqual(next.name, leader.name);
    await cluster.stopAll();
    const report = await checker.stop();
    assert.ok(report.samples > 0);
    assert.deepEqual(report.violations, []);
  },
);

test(
  'member controls reach the right process: pause, resume, postmaster kill, agent-only kill, restart, stop',
  { skip: agentCommandMissing(), timeout: 240_000 },
  async () => {
    const cluster = await startCluster({ membersPerGroup: 1 });
    const [member] = cluster.members;
    assert.ok(member);
    member.start();
    await waitForLeader(cluster, null, { timeout: 90_000 });
    const agentPid = member.agent?.pid ?? 0;

    member.pause();
    await waitFor(() => procInfo(agentPid)?.state === 'T', {
      timeout: 5000,
      interval: 20,
      message: 'the agent is stopped',
    });
    assert.equal(await member.health('/primary'), 0);
    // Its PostgreSQL keeps serving while the agent is frozen.
    assert.equal((await member.query<{ one: number }>('select 1 as one')).rows[0]?.one, 1);
    member.resume();
    await waitFor(async () => (await member.health('/primary')) === 200, {
      timeout: 10_000,
      message: 'the resumed agent answers again',
    });

    const first = await member.killPostgres();
    assert.equal(member.running, true);
    await waitFor(
      () => {
        const pid = member.postmasterPid();
        return pid !== null && pid !== first;
      },
      {
        timeout: 60_000,
        message: 'the agent starts a new postmaster',
      },
    );
    await waitForLeader(cluster, null, { timeout: 60_000 });

    const survivor = member.postmasterPid();
    assert.ok(survivor !== null);
    await member.killAgentOnly();
    assert.equal(member.running, false);
    assert.equal(isAlive(survivor), true);
    assert.equal((await member.query<{ one: number }>('select 1 as one')).rows[0]?.one, 1);

    member.start();
    assert.notEqual(member.agent?.pid, agentPid);
    await waitForLeader(cluster, null, { timeout: 60_000 });
    await member.stop();
    assert.equal(member.running, false);
  },
);
