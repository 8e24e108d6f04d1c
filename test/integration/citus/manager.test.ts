// The Citus manager against a real etcd and a real PostgreSQL with the stand-in: Dcs clients
// stand in for the agents of groups 0..4, and pg_dist_node is read back as a user would.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ensureCitus } from '../../../src/citus/extension.ts';
import { CitusManager, type TopologySource } from '../../../src/citus/manager.ts';
import { Dcs } from '../../../src/dcs/dcs.ts';
import type { MemberData } from '../../../src/dcs/types.ts';
import type { DcsWatch } from '../../../src/dcs/watch.ts';
import { silentLogger } from '../../../src/log.ts';
import { createPostgres, startEtcd, useHarness, waitFor, type EtcdServer, type PgServer } from '../../harness/index.ts';

useHarness();

const WAIT = { timeout: 15_000, interval: 5 };
const APP = 'shardherd-citus-manager-test';

let etcd: EtcdServer;
let coordinator: PgServer;
const agents: Dcs[] = [];

/** A member that is never started: the manager only needs its key, not a server. */
function memberData(port: number, role: 'primary' | 'replica', extra: Partial<MemberData> = {}): MemberData {
  return {
    conn_url: `postgres://127.0.0.1:${port}/postgres`,
    api_url: `http://127.0.0.1:${port + 1000}/patroni`,
    state: 'running',
    role,
    version: '3.0.2',
    ...extra,
  };
}

function agent(scope: string, group: number): Dcs {
  const dcs = new Dcs({ hosts: [etcd.endpoint], namespace: 'service', scope, group, retryTimeout: 5, ttl: 30 });
  agents.push(dcs);
  return dcs;
}

/** An agent of one member: its own client and lease, as a real agent has. */
class FakeMember {
  readonly dcs: Dcs;
  constructor(scope: string, readonly group: number, readonly name: string, readonly port: number) {
    this.dcs = agent(scope, group);
  }
  report(role: 'primary' | 'replica', extra: Partial<MemberData> = {}): Promise<void> {
    return this.dcs.touchMember(this.name, memberData(this.port, role, extra));
  }
  async lead(): Promise<void> {
    assert.equal(await this.dcs.attemptToAcquireLeader(this.name), true);
  }
}

function connectTo(server: PgServer, db = 'postgres'): () => Promise<pg.Client> {
  return async () => {
    const client = new pg.Client({ connectionString: server.connectionString(db), application_name: APP });
    await client.connect();
    return client;
  };
}

/** pg_dist_node as `group role host:port`, sorted. */
async function rows(db = 'postgres'): Promise<string[]> {
  const client = await connectTo(coordinator, db)();
  try {
    const r = await client.query<{ g: number; role: string; name: string; port: number }>(
      'SELECT groupid AS g, noderole::text AS role, nodename AS name, nodeport AS port FROM pg_catalog.pg_dist_node',
    );
    return r.rows.map((x) => `${x.g} ${x.role} ${x.name}:${x.port}`).sort();
  } finally {
    await client.end();
  }
}

async function nodeid(host: string, port: number, db = 'postgres'): Promise<number | undefined> {
  const client = await connectTo(coordinator, db)();
  try {
    const r = await client.query<{ nodeid: number }>(
      'SELECT nodeid FROM pg_catalog.pg_dist_node WHERE nodename = $1 AND nodeport = $2',
      [host, port],
    );
    return r.rows[0]?.nodeid;
  } finally {
    await client.end();
  }
}

const sameRows = async (want: string[], db = 'postgres') => {
  const have = await rows(db);
  return JSON.stringify(have) === JSON.stringify([...want].sort()) ? have : false;
};

/** A real Dcs whose watches are counted, to see that stop() closes them. */
function countingSource(dcs: Dcs): TopologySource & { open: () => number } {
  let open = 0;
  return {
    open: () => open,
    loadCluster: (o) => dcs.loadCluster(o),
    watch: (from, listener): DcsWatch => {
      const inner = dcs.watch(from, listener);
      open++;
      let closed = false;
      return {
        close: () => {
          if (!closed) open--;
          closed = true;
          inner.close();
        },
      };
    },
  };
}

before(async () => {
  [etcd, coordinator] = await Promise.all([
    startEtcd(),
    // The lock helper of a forced citus_update_node connects back through this name.
    createPostgres({ parameters: { 'citus.local_hostname': '127.0.0.1', shared_buffers: '16MB', max_connections: '40' } }),
  ]);
  for (const db of ['postgres', 'errors']) {
    if (db !== 'postgres') await coordinator.query(`CREATE DATABASE ${db}`);
    const client = await connectTo(coordinator, db)();
    await ensureCitus(client, { logger: silentLogger });
    await client.end();
  }
});

after(() => {
  for (const dcs of agents) dcs.close();
});

describe('citus manager on one scope, groups 0..4', () => {
  const SCOPE = 'demo';
  const H = '127.0.0.1';
  let manager: CitusManager;
  let source: ReturnType<typeof countingSource>;
  let c0: FakeMember, c1: FakeMember, w1a: FakeMember, w1b: FakeMember, w2a: FakeMember, w2b: FakeMember;

  before(async () => {
    c0 = new FakeMember(SCOPE, 0, 'coord-a', coordinator.port);
    c1 = new FakeMember(SCOPE, 0, 'coord-b', 21001);
    w1a = new FakeMember(SCOPE, 1, 'w1-a', 21010);
    w1b = new FakeMember(SCOPE, 1, 'w1-b', 21011);
    w2a = new FakeMember(SCOPE, 2, 'w2-a', 21020);
    w2b = new FakeMember(SCOPE, 2, 'w2-b', 21021);
    for (const [primary, replica] of [[c0, c1], [w1a, w1b], [w2a, w2b]]) {
      await primary.report('primary');
      await primary.lead();
      await replica.report('replica');
    }
    source = countingSource(agent(SCOPE, 0));
    manager = new CitusManager({ dcs: source, connect: connectTo(coordinator), logger: silentLogger, retryTimeout: 5 });
  });

  after(async () => {
    await manager?.stop();
  });

  test('start registers the coordinator with its secondary and each worker group with primary and secondary', async () => {
    await manager.start();
    assert.deepEqual(await rows(), [
      `0 primary ${H}:${coordinator.port}`,
      `0 secondary ${H}:21001`,
      `1 primary ${H}:21010`,
      `1 secondary ${H}:21011`,
      `2 primary ${H}:21020`,
      `2 secondary ${H}:21021`,
    ].sort());
    const stats = manager.stats();
    assert.equal(stats.running, true);
    assert.equal(stats.statementsApplied, 6);
    assert.equal(stats.failures, 0);
  });

  test('a worker failover repoints the primary row keeping its nodeid; the old primary returns as secondary', async (t) => {
    const primaryId = await nodeid(H, 21010);
    assert.ok(primaryId !== undefined);
    // w1-a dies: its leader key goes; w1-b is promoted, reports primary and takes the lock.
    assert.equal(await w1a.dcs.deleteLeader('w1-a'), true);
    await w1a.dcs.deleteMember('w1-a');
    await w1b.report('primary');
    const t0 = performance.now();
    await w1b.lead();
    await waitFor(() => sameRows([
      `0 primary ${H}:${coordinator.port}`, `0 secondary ${H}:21001`,
      `1 primary ${H}:21011`,
      `2 primary ${H}:21020`, `2 secondary ${H}:21021`,
    ]), { ...WAIT, message: 'group 1 primary row repointed to w1-b' });
    t.diagnostic(`worker failover: leader key write -> primary row repointed in ${(performance.now() - t0).toFixed(1)} ms`);
    assert.equal(await nodeid(H, 21011), primaryId);

    await w1a.report('replica');
    await waitFor(() => sameRows([
      `0 primary ${H}:${coordinator.port}`, `0 secondary ${H}:21001`,
      `1 primary ${H}:21011`, `1 secondary ${H}:21010`,
      `2 primary ${H}:21020`, `2 secondary ${H}:21021`,
    ]), { ...WAIT, message: 'w1-a back as group 1 secondary' });
    assert.equal(await nodeid(H, 21011), primaryId);
  });

  test('a replica leaving removes its secondary row', async () => {
    await w2b.dcs.deleteMember('w2-b');
    await waitFor(async () => !(await rows()).includes(`2 secondary ${H}:21021`), { ...WAIT, message: 'w2-b row removed' });
    assert.ok((await rows()).includes(`2 primary ${H}:21020`));
  });

  test('a replica tagged noloadbalance is not registered', async () => {
    const hidden = new FakeMember(SCOPE, 2, 'w2-c', 21022);
    await hidden.report('replica', { tags: { noloadbalance: true } });
    // A later change in the same group: once it shows, the tagged member's event was handled too.
    const visible = new FakeMember(SCOPE, 2, 'w2-d', 21023);
    await visible.report('replica');
    await waitFor(async () => (await rows()).includes(`2 secondary ${H}:21023`), { ...WAIT, message: 'w2-d registered' });
    assert.ok(!(await rows()).includes(`2 secondary ${H}:21022`));
  });

  test('a new worker group is registered after its leader key appears', async (t) => {
    const p = new FakeMember(SCOPE, 3, 'w3-a', 21030);
    const r = new FakeMember(SCOPE, 3, 'w3-b', 21031);
    await p.report('primary');
    await r.report('replica');
    const t0 = performance.now();
    await p.lead();
    await waitFor(async () => (await rows()).includes(`3 primary ${H}:21030`), { ...WAIT, message: 'group 3 primary registered' });
    t.diagnostic(`new group: leader key write -> primary row visible in ${(performance.now() - t0).toFixed(1)} ms`);
    await waitFor(async () => (await rows()).includes(`3 secondary ${H}:21031`), { ...WAIT, message: 'group 3 secondary registered' });
  });

  test('a row changed behind the manager fails one attempt, then the refreshed rows make it succeed', async () => {
    // A primary row for group 4 the manager's cached rows do not know: adding another fails.
    const ghost = await coordinator.query<{ id: number }>(
      "SELECT pg_catalog.citus_add_node('ghost.invalid', 5432, 4, 'primary') AS id",
    );
    const failuresBefore = manager.stats().failures;
    const p = new FakeMember(SCOPE, 4, 'w4-a', 21040);
    await p.report('primary');
    await p.lead();
    await waitFor(async () => (await rows()).includes(`4 primary ${H}:21040`), { ...WAIT, message: 'group 4 primary registered' });
    assert.ok(manager.stats().failures > failuresBefore, 'the first attempt failed on the unknown row');
    assert.equal(await nodeid(H, 21040), ghost.rows[0].id, 'the hand-made row was repointed, not replaced');
  });

  test('stop closes the watch and the connection and refuses further reconciles', async () => {
    await manager.stop();
    assert.equal(source.open(), 0);
    assert.equal(manager.stats().running, false);
    await waitFor(
      async () => (await coordinator.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [APP])).rowCount === 0,
      { ...WAIT, message: 'manager connection closed' },
    );
    await assert.rejects(manager.reconcileNow(), /stopped/);
  });
});

describe('citus manager reconcileNow on another scope and database', () => {
  const SCOPE = 'errors';
  const H = '127.0.0.1';

  test('a statement failing in the middle of a plan rolls it all back; the next reconcile succeeds on refreshed rows', async () => {
    const c = new FakeMember(SCOPE, 0, 'c', coordinator.port);
    const a = new FakeMember(SCOPE, 1, 'a', 22010);
    const b = new FakeMember(SCOPE, 1, 'b', 22011);
    await c.report('primary');
    await c.lead();
    await a.report('primary');
    await a.lead();
    await b.report('replica');
    const manager = new CitusManager({
      dcs: agent(SCOPE, 0),
      connect: connectTo(coordinator, 'errors'),
      logger: silentLogger,
      retryTimeout: 5,
    });
    try {
      const first = await manager.reconcileNow();
      assert.equal(first.kind, 'applied');
      assert.deepEqual(await rows('errors'), [`0 primary ${H}:${coordinator.port}`, `1 primary ${H}:22010`, `1 secondary ${H}:22011`]);

      // By hand, behind the manager's cached rows: group 2 gets a primary row.
      const ghost = await connectTo(coordinator, 'errors')();
      const ghostId = (await ghost.query<{ id: number }>("SELECT citus_add_node('ghost.invalid', 5432, 2) AS id")).rows[0].id;
      await ghost.end();
      // The plan will remove b's row (succeeds) and then add group 2's primary (fails).
      await b.dcs.deleteMember('b');
      const p = new FakeMember(SCOPE, 2, 'p', 22020);
      await p.report('primary');
      await p.lead();

      const failed = await manager.reconcileNow();
      assert.equal(failed.kind, 'failed');
      assert.ok(failed.kind === 'failed' && failed.planned === 2 && failed.failedAt === 1, JSON.stringify(failed));
      assert.match(failed.error.message, /group 2 already has a primary node/);
      // The removal that ran first was rolled back with the rest.
      assert.deepEqual(await rows('errors'), [
        `0 primary ${H}:${coordinator.port}`, `1 primary ${H}:22010`, `1 secondary ${H}:22011`, '2 primary ghost.invalid:5432',
      ]);
      const open = await coordinator.query(
        "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state LIKE 'idle in transaction%'",
        [APP],
      );
      assert.equal(open.rowCount, 0);

      const second = await manager.reconcileNow();
      assert.equal(second.kind, 'applied', second.kind === 'failed' ? second.error.message : '');
      assert.deepEqual(await rows('errors'), [`0 primary ${H}:${coordinator.port}`, `1 primary ${H}:22010`, `2 primary ${H}:22020`]);
      assert.equal(await nodeid(H, 22020, 'errors'), ghostId);
      assert.deepEqual(manager.stats().failures, 1);
    } finally {
      await manager.stop();
    }
  });
});
