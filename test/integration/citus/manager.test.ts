// The Citus manager against a real etcd and a real PostgreSQL with the stand-in: Dcs clients
// stand in for the agents of groups 0..4, and pg_dist_node is read back as a user would.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { readFileSync } from 'node:fs';
import { COMPAT_SQL_PATH } from '../../../src/citus/extension.ts';
import { CitusManager, type TopologySource } from '../../../src/citus/manager.ts';
import { Dcs } from '../../../src/dcs/dcs.ts';
import type { MemberData } from '../../../src/dcs/types.ts';
import type { DcsWatch } from '../../../src/dcs/watch.ts';
import { silentLogger } from '../../../src/log.ts';
import {
  createPostgres,
  freePort,
  startEtcd,
  startStandInSync,
  useHarness,
  waitFor,
  type EtcdServer,
  type PgServer,
  type StandInSync,
} from '../../harness/index.ts';

useHarness();

const WAIT = { timeout: 15_000, interval: 5 };
const APP = 'shardherd-citus-manager-test';

let etcd: EtcdServer;
let coordinator: PgServer;
/**
 * Worker primaries are real servers with the stand-in: Citus copies the metadata to every
 * metadata worker and refuses adds and removes while one cannot be reached. Secondaries can be
 * ports where nothing listens: Citus never contacts them.
 */
let W1A: PgServer, W1B: PgServer, W2A: PgServer, W3A: PgServer, W4A: PgServer;
const agents: Dcs[] = [];
const syncs: StandInSync[] = [];
const SMALL = { shared_buffers: '16MB', max_connections: '40' };

/** The stand-in in `db` of `server` (also where Citus is installed: this test is about the manager). */
async function installStandIn(server: PgServer, db: string): Promise<void> {
  if (db !== 'postgres') await server.query(`CREATE DATABASE ${db}`);
  const client = await connectTo(server, db)();
  try {
    await client.query(readFileSync(COMPAT_SQL_PATH, 'utf8'));
  } finally {
    await client.end();
  }
}

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
  constructor(
    scope: string,
    readonly group: number,
    readonly name: string,
    readonly port: number,
  ) {
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
    setCitusMark: (group, value, modRevision) => dcs.setCitusMark(group, value, modRevision),
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
  [etcd, coordinator, W1A, W1B, W2A, W3A, W4A] = await Promise.all([
    startEtcd(),
    createPostgres({ parameters: { 'citus.local_hostname': '127.0.0.1', ...SMALL } }),
    ...[1, 2, 3, 4, 5].map(() => createPostgres({ parameters: SMALL })),
  ]);
  for (const db of ['postgres', 'errors']) {
    await installStandIn(coordinator, db);
    // Citus's maintenance daemon: syncs the metadata workers after citus_update_node.
    syncs.push(startStandInSync({ host: coordinator.host, port: coordinator.port, user: 'postgres', database: db }));
  }
  for (const w of [W1A, W1B, W2A, W3A, W4A]) await installStandIn(w, 'postgres');
  for (const w of [W1A, W1B, W2A]) await installStandIn(w, 'errors');
});

describe('citus manager on one scope, groups 0..4', () => {
  const SCOPE = 'demo';
  const H = '127.0.0.1';
  let manager: CitusManager;
  let source: ReturnType<typeof countingSource>;
  let c0: FakeMember, c1: FakeMember, w1a: FakeMember, w1b: FakeMember, w2a: FakeMember, w2b: FakeMember;
  /** What the manager logs, one JSON line each. */
  const logLines: string[] = [];
  const recording = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });

  before(async () => {
    c0 = new FakeMember(SCOPE, 0, 'coord-a', coordinator.port);
    c1 = new FakeMember(SCOPE, 0, 'coord-b', 21001);
    w1a = new FakeMember(SCOPE, 1, 'w1-a', W1A.port);
    w1b = new FakeMember(SCOPE, 1, 'w1-b', W1B.port);
    w2a = new FakeMember(SCOPE, 2, 'w2-a', W2A.port);
    w2b = new FakeMember(SCOPE, 2, 'w2-b', 21021);
    for (const [primary, replica] of [
      [c0, c1],
      [w1a, w1b],
      [w2a, w2b],
    ]) {
      await primary.report('primary');
      await primary.lead();
      await replica.report('replica');
    }
    source = countingSource(agent(SCOPE, 0));
    manager = new CitusManager({ dcs: source, connect: connectTo(coordinator), logger: recording, retryTimeout: 5 });
  });

  after(async () => {
    await manager?.stop();
    // An open sync connection would keep the process alive, and root hooks wait for that.
    await syncs[0]?.stop();
  });

  test(
    'start registers the coordinator with its secondary ' + 'and each worker group with primary and secondary',
    async () => {
      await manager.start();
      assert.deepEqual(
        await rows(),
        [
          `0 primary ${H}:${coordinator.port}`,
          `0 secondary ${H}:21001`,
          `1 primary ${H}:${W1A.port}`,
          `1 secondary ${H}:${W1B.port}`,
          `2 primary ${H}:${W2A.port}`,
          `2 secondary ${H}:21021`,
        ].sort(),
      );
      const stats = manager.stats();
      assert.equal(stats.running, true);
      assert.equal(stats.statementsApplied, 6);
      assert.equal(stats.failures, 0);
    },
  );

  test(
    'a worker failover repoints the primary row keeping its nodeid; ' + 'the old primary returns as secondary',
    async (t) => {
      const primaryId = await nodeid(H, W1A.port);
      assert.ok(primaryId !== undefined);
      // w1-a dies: its leader key goes; w1-b is promoted, reports primary and takes the lock.
      assert.equal(await w1a.dcs.deleteLeader('w1-a'), true);
      await w1a.dcs.deleteMember('w1-a');
      await w1b.report('primary');
      const t0 = performance.now();
      await w1b.lead();
      await waitFor(
        () =>
          sameRows([
            `0 primary ${H}:${coordinator.port}`,
            `0 secondary ${H}:21001`,
            `1 primary ${H}:${W1B.port}`,
            `2 primary ${H}:${W2A.port}`,
            `2 secondary ${H}:21021`,
          ]),
        { ...WAIT, message: "group 1 primary row repointed to w1-b, the dead node's row removed once synced" },
      );
      t.diagnostic(
        `worker failover: leader key write -> primary row repointed in ${(performance.now() - t0).toFixed(1)} ms`,
      );
      assert.equal(await nodeid(H, W1B.port), primaryId);

      await w1a.report('replica');
      await waitFor(
        () =>
          sameRows([
            `0 primary ${H}:${coordinator.port}`,
            `0 secondary ${H}:21001`,
            `1 primary ${H}:${W1B.port}`,
            `1 secondary ${H}:${W1A.port}`,
            `2 primary ${H}:${W2A.port}`,
            `2 secondary ${H}:21021`,
          ]),
        { ...WAIT, message: 'w1-a back as group 1 secondary' },
      );
      assert.equal(await nodeid(H, W1B.port), primaryId);
    },
  );

  test('a replica leaving removes its secondary row', async () => {
    await w2b.dcs.deleteMember('w2-b');
    await waitFor(async () => !(await rows()).includes(`2 secondary ${H}:21021`), {
      ...WAIT,
      message: 'w2-b row removed',
    });
    assert.ok((await rows()).includes(`2 primary ${H}:${W2A.port}`));
  });

  test('a replica tagged noloadbalance is not registered', async () => {
    const hidden = new FakeMember(SCOPE, 2, 'w2-c', 21022);
    await hidden.report('replica', { tags: { noloadbalance: true } });
    // A later change in the same group: once it shows, the tagged member's event was handled too.
    const visible = new FakeMember(SCOPE, 2, 'w2-d', 21023);
    await visible.report('replica');
    await waitFor(async () => (await rows()).includes(`2 secondary ${H}:21023`), {
      ...WAIT,
      message: 'w2-d registered',
    });
    assert.ok(!(await rows()).includes(`2 secondary ${H}:21022`));
  });

  test('a new worker group is registered after its leader key appears', async (t) => {
    const p = new FakeMember(SCOPE, 3, 'w3-a', W3A.port);
    const r = new FakeMember(SCOPE, 3, 'w3-b', 21031);
    await p.report('primary');
    await r.report('replica');
    const t0 = performance.now();
    await p.lead();
    await waitFor(async () => (await rows()).includes(`3 primary ${H}:${W3A.port}`), {
      ...WAIT,
      message: 'group 3 primary registered',
    });
    t.diagnostic(`new group: leader key write -> primary row visible in ${(performance.now() - t0).toFixed(1)} ms`);
    await waitFor(async () => (await rows()).includes(`3 secondary ${H}:21031`), {
      ...WAIT,
      message: 'group 3 secondary registered',
    });
  });

  test(
    'a row added behind the manager is found when Citus refuses the add, ' + 'and repointed keeping its nodeid',
    async () => {
      // A primary row for group 4 the manager's cached rows do not know, under another name of W4A.
      const ghost = await coordinator.query<{ id: number }>(
        "SELECT pg_catalog.citus_add_node('localhost', $1, 4, 'primary') AS id",
        [W4A.port],
      );
      const p = new FakeMember(SCOPE, 4, 'w4-a', W4A.port);
      await p.report('primary');
      await p.lead();
      await waitFor(async () => (await rows()).includes(`4 primary ${H}:${W4A.port}`), {
        ...WAIT,
        message: 'group 4 primary registered',
      });
      assert.equal(await nodeid(H, W4A.port), ghost.rows[0].id, 'the hand-made row was repointed, not replaced');
    },
  );

  test('a pooler that cannot be reached is registered and logged, and does not hold up other groups', async () => {
    const deadPort = await freePort();
    const lonely = new FakeMember(SCOPE, 3, 'w3-c', 21032);
    await lonely.report('replica', { proxy_url: `postgres://${H}:${deadPort}/postgres` });
    const other = new FakeMember(SCOPE, 2, 'w2-e', 21024);
    await other.report('replica');
    await waitFor(
      async () => {
        const r = await rows();
        return r.includes(`3 secondary ${H}:21032`) && r.includes(`2 secondary ${H}:21024`);
      },
      { ...WAIT, message: 'both replicas registered' },
    );
    const pool = await coordinator.query<{ poolinfo: string }>(
      'SELECT poolinfo FROM pg_catalog.pg_dist_poolinfo ' +
        'JOIN pg_catalog.pg_dist_node USING (nodeid) WHERE nodeport = 21032',
    );
    assert.deepEqual(pool.rows, [{ poolinfo: `host=${H} port=${deadPort}` }]);
    await waitFor(
      () =>
        logLines.some(
          (l) => l.includes('pooler in pg_dist_poolinfo cannot be reached') && l.includes(`port=${deadPort}`),
        ),
      { ...WAIT, message: 'the unreachable pooler is logged' },
    );
  });

  test('stop closes the watch and the connection and refuses further reconciles', async () => {
    await manager.stop();
    assert.equal(source.open(), 0);
    assert.equal(manager.stats().running, false);
    await waitFor(
      async () =>
        (await coordinator.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [APP])).rowCount === 0,
      { ...WAIT, message: 'manager connection closed' },
    );
    await assert.rejects(manager.reconcileNow(), /stopped/);
  });
});

describe('citus manager reconcileNow on another scope and database', () => {
  const SCOPE = 'errors';
  const H = '127.0.0.1';

  test('an add Citus refuses (a metadata worker down) waits with its reason and never holds up a repoint', async () => {
    const c = new FakeMember(SCOPE, 0, 'c', coordinator.port);
    const a = new FakeMember(SCOPE, 1, 'a', W1A.port);
    const b = new FakeMember(SCOPE, 1, 'b', 22011);
    const p = new FakeMember(SCOPE, 2, 'p', W2A.port);
    await c.report('primary');
    await c.lead();
    await a.report('primary');
    await a.lead();
    await b.report('replica');
    await p.report('primary');
    await p.lead();
    const manager = new CitusManager({
      dcs: agent(SCOPE, 0),
      connect: connectTo(coordinator, 'errors'),
      logger: silentLogger,
      retryTimeout: 5,
    });
    try {
      const first = await manager.reconcileNow();
      assert.ok(first.kind === 'applied' && first.waiting === null, JSON.stringify(first));
      const settled = [
        `0 primary ${H}:${coordinator.port}`,
        `1 primary ${H}:${W1A.port}`,
        `1 secondary ${H}:22011`,
        `2 primary ${H}:${W2A.port}`,
      ];
      assert.deepEqual(await rows('errors'), [...settled].sort());

      // Group 2's primary goes down (etcd has not noticed yet) while a replica joins group 1.
      await W2A.stop();
      const b2 = new FakeMember(SCOPE, 1, 'b2', 22012);
      await b2.report('replica');
      const refused = await manager.reconcileNow();
      assert.ok(refused.kind === 'applied', JSON.stringify(refused));
      assert.match(refused.waiting ?? '', /connection to the remote node .*:\d+ failed/);
      assert.deepEqual(await rows('errors'), [...settled].sort());

      // Group 1 fails over meanwhile: the repoint contacts nobody and goes through.
      assert.equal(await a.dcs.deleteLeader('a'), true);
      const a2 = new FakeMember(SCOPE, 1, 'a2', W1B.port);
      await a2.report('primary');
      await a2.lead();
      await a.dcs.deleteMember('a');
      const repointed = await manager.reconcileNow();
      assert.ok(repointed.kind === 'applied' && repointed.waiting !== null, JSON.stringify(repointed));
      assert.ok((await rows('errors')).includes(`1 primary ${H}:${W1B.port}`));
      const open = await coordinator.query(
        "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state LIKE 'idle in transaction%'",
        [APP],
      );
      assert.equal(open.rowCount, 0);

      // Group 2 back: once Citus's sync caught up, the waiting adds and removes run.
      await W2A.start();
      await waitFor(
        async () => {
          const r = await manager.reconcileNow();
          return r.kind === 'applied' && r.waiting === null;
        },
        { timeout: 30_000, interval: 200, message: 'membership changes ran once the worker was back and synced' },
      );
      assert.deepEqual(
        await rows('errors'),
        [
          `0 primary ${H}:${coordinator.port}`,
          `1 primary ${H}:${W1B.port}`,
          `1 secondary ${H}:22011`,
          `1 secondary ${H}:22012`,
          `2 primary ${H}:${W2A.port}`,
        ].sort(),
      );
    } finally {
      await manager.stop();
      await syncs[1]?.stop();
    }
  });
});
