// Rebalance on join across a change of coordinator: the manager that follows finds the join
// recorded and Citus's job running, and follows that job instead of starting another, also when
// the first manager stopped between starting the job and recording it. Dcs clients stand in for
// the agents; the coordinator and two worker primaries are real servers with the stand-in, whose
// task monitor (Citus's background worker) is started only once the second manager runs.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { COMPAT_SQL_PATH } from '../../../src/citus/extension.ts';
import { CitusManager } from '../../../src/citus/manager.ts';
import { Dcs } from '../../../src/dcs/dcs.ts';
import { silentLogger } from '../../../src/log.ts';
import {
  createPostgres,
  startEtcd,
  startStandInSync,
  useHarness,
  waitFor,
  type EtcdServer,
  type PgServer,
  type StandInSync,
} from '../../harness/index.ts';

useHarness();

const SCOPE = 'follow';
const H = '127.0.0.1';
const WAIT = { timeout: 30_000, interval: 50 };
const SMALL = { shared_buffers: '16MB', max_connections: '40' };
const SCALE = { rebalanceOnJoin: true, transferMode: 'block_writes' as const };

let etcd: EtcdServer;
let coordinator: PgServer, W1: PgServer, W2: PgServer;
const clients: Dcs[] = [];
let sync: StandInSync | undefined;

function dcs(group: number): Dcs {
  const d = new Dcs({ hosts: [etcd.endpoint], namespace: 'service', scope: SCOPE, group, retryTimeout: 5, ttl: 30 });
  clients.push(d);
  return d;
}

const connect = async (): Promise<pg.Client> => {
  const client = new pg.Client({ connectionString: coordinator.connectionString('postgres') });
  await client.connect();
  return client;
};

async function sql<R extends pg.QueryResultRow>(text: string): Promise<R[]> {
  const client = await connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

/** A member of `group` that runs as primary and holds the lock, as its agent would show it. */
async function lead(group: number, name: string, port: number): Promise<void> {
  const d = dcs(group);
  const data = { conn_url: `postgres://${H}:${port}/postgres`, api_url: `http://${H}:${port + 1000}/patroni` };
  await d.touchMember(name, { ...data, state: 'running', role: 'primary', version: '3.0.2' });
  assert.equal(await d.attemptToAcquireLeader(name), true);
}

const jobs = async (): Promise<number> =>
  (await sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_dist_background_job WHERE job_type = 'rebalance'"))[0]!
    .n;

async function joined(group: number): Promise<{ job_id: number | null } | undefined> {
  const view = await dcs(0).loadCluster({ allGroups: true });
  return view.groups.find((g) => g.group === group)?.citus?.value.joined;
}

before(async () => {
  [etcd, coordinator, W1, W2] = await Promise.all([
    startEtcd(),
    createPostgres({ parameters: { 'citus.local_hostname': H, ...SMALL } }),
    createPostgres({ parameters: SMALL }),
    createPostgres({ parameters: SMALL }),
  ]);
  for (const server of [coordinator, W1, W2]) {
    const client = new pg.Client({ connectionString: server.connectionString('postgres') });
    await client.connect();
    try {
      await client.query(readFileSync(COMPAT_SQL_PATH, 'utf8'));
    } finally {
      await client.end();
    }
  }
});

after(async () => {
  await sync?.stop();
  for (const d of clients) d.close();
});

test('a second manager follows the rebalance the first started for a join, and starts none of its own', async (t) => {
  await lead(0, 'coord', coordinator.port);
  await lead(1, 'w1', W1.port);
  const first = new CitusManager({ dcs: dcs(0), connect, logger: silentLogger, retryTimeout: 5, scale: () => SCALE });
  await first.start();
  // Group 1 joins a formation without distributed tables: nothing to move, the join is recorded.
  const first1 = await waitFor(() => joined(1), { ...WAIT, message: 'group 1 joined' });
  assert.equal(first1?.job_id, null);
  await sql('CREATE TABLE items (id bigint PRIMARY KEY, v text)');
  await sql("SELECT create_distributed_table('items', 'id', shard_count => 8)");
  const insert = "format('INSERT INTO %%s VALUES (%s, ''v'')', g)";
  await sql(`SELECT citus_compat.dist_exec('items', g, ${insert}) FROM generate_series(1, 200) g`);

  // Group 2 joins: the first manager starts a job, which nothing runs yet.
  await lead(2, 'w2', W2.port);
  const mark = await waitFor(async () => (await joined(2))?.job_id ?? undefined, {
    ...WAIT,
    message: 'group 2 joined',
  });
  assert.equal(await jobs(), 1);
  await first.stop();

  // The coordinator changes: a new manager on the same metadata (a promoted replica has the same job table).
  const second = new CitusManager({ dcs: dcs(0), connect, logger: silentLogger, retryTimeout: 5, scale: () => SCALE });
  await second.start();
  // Its passes find the join recorded and the job active: they follow the job, and start none.
  const following = new RegExp(`^rebalance job ${mark} is scheduled`);
  await waitFor(() => following.test(second.scaleStatus().waiting ?? ''), {
    ...WAIT,
    message: `following job ${mark}`,
  });
  assert.equal(second.scaleStatus().rebalance?.jobId, mark);
  assert.equal(await jobs(), 1, 'the second manager started no rebalance of its own');

  // Citus's background worker runs the job; the second manager sees it finish.
  sync = startStandInSync({ host: coordinator.host, port: coordinator.port, user: 'postgres', database: 'postgres' });
  const finished = await waitFor(
    () => (second.scaleStatus().rebalance?.state === 'finished' ? second.scaleStatus() : undefined),
    { timeout: 60_000, interval: 100, message: `job ${mark} finished` },
  );
  const placements = finished!.placements;
  t.diagnostic(`after job ${mark}: placements ${JSON.stringify(placements)}`);
  const w1 = (await sql<{ groupid: number }>(`SELECT groupid FROM pg_dist_node WHERE nodeport = ${W1.port}`))[0]!;
  const w2 = (await sql<{ groupid: number }>(`SELECT groupid FROM pg_dist_node WHERE nodeport = ${W2.port}`))[0]!;
  assert.ok((placements[w1.groupid] ?? 0) > 0 && (placements[w2.groupid] ?? 0) > 0, JSON.stringify(placements));
  assert.equal(await jobs(), 1);
  const count = await sql<{ n: number }>(
    "SELECT count(*)::int AS n FROM citus_compat.dist_query('items', 'SELECT id FROM %s')",
  );
  assert.equal(count[0]!.n, 200, 'every row moved with its shard');
  await second.stop();
});

test('a manager stopped between starting a job and recording the join: its successor waits for that job', async () => {
  // The join of group 2 is not recorded, and a job runs (the monitor is stopped so it stays scheduled).
  await sync?.stop();
  sync = undefined;
  const view = await dcs(0).loadCluster({ allGroups: true });
  const key = view.groups.find((g) => g.group === 2)?.citus;
  assert.ok(key);
  assert.equal(await dcs(2).setCitusMark(2, {}, key.modRevision), true);
  const w2 = (
    await sql<{ nodename: string; nodeport: number }>(
      `SELECT nodename, nodeport FROM pg_dist_node WHERE nodeport = ${W2.port}`,
    )
  )[0]!;
  const w1 = (
    await sql<{ nodename: string; nodeport: number }>(
      `SELECT nodename, nodeport FROM pg_dist_node WHERE nodeport = ${W1.port}`,
    )
  )[0]!;
  // Make moves to do, then schedule them as the stopped manager would have.
  const shard = (
    await sql<{ shardid: string }>(
      'SELECT p.shardid FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) ' +
        `WHERE n.nodeport = ${W2.port} LIMIT 1`,
    )
  )[0]!;
  await sql(
    `SELECT citus_move_shard_placement(${shard.shardid}, '${w2.nodename}', ${w2.nodeport}, ` +
      `'${w1.nodename}', ${w1.nodeport}, 'block_writes')`,
  );
  await sql(
    "SELECT citus_rebalance_start(rebalance_strategy => 'by_shard_count', shard_transfer_mode => 'block_writes')",
  );
  assert.equal(await jobs(), 2);

  const manager = new CitusManager({ dcs: dcs(0), connect, logger: silentLogger, retryTimeout: 5, scale: () => SCALE });
  await manager.start();
  await waitFor(() => /group 2 joined; rebalance job \d+ is scheduled/.test(manager.scaleStatus().waiting ?? ''), {
    ...WAIT,
    message: 'the join waits for the running job',
  });
  assert.equal(await jobs(), 2, 'no second job while one runs');
  sync = startStandInSync({ host: coordinator.host, port: coordinator.port, user: 'postgres', database: 'postgres' });
  // Once the job ends, the join is balanced by a rebalance that finds nothing to move, and recorded.
  const mark = await waitFor(() => joined(2), { timeout: 60_000, interval: 100, message: 'group 2 joined again' });
  assert.equal(mark?.job_id, null);
  assert.equal(await jobs(), 2, 'the rebalance after the job had nothing to move');
  await manager.stop();
});
