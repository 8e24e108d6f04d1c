// The pause protocol's coordinator side against real etcd and real PostgreSQL: a coordinator with
// the Citus stand-in and four worker servers (A, B for group 1; C, D for group 2) that routed
// writes really reach. Dcs clients stand in for the agents and their member and leader keys.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { readFileSync } from 'node:fs';
import { COMPAT_SQL_PATH } from '../../../src/citus/extension.ts';
import { CitusManager } from '../../../src/citus/manager.ts';
import { pauseStatus } from '../../../src/api/pauseStatus.ts';
import type { PauseEvent } from '../../../src/citus/pauseRules.ts';
import { Dcs } from '../../../src/dcs/dcs.ts';
import type { MemberData } from '../../../src/dcs/types.ts';
import { silentLogger } from '../../../src/log.ts';
import { CitusApp } from '../../harness/citusApp.ts';
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

const WAIT = { timeout: 20_000, interval: 10 };
const H = '127.0.0.1';
const SCOPE = 'pause';

/** Citus's metadata sync for the stand-in, beside the coordinator. */
let sync: StandInSync | undefined;
let etcd: EtcdServer;
let coordinator: PgServer;
let serverA: PgServer;
let serverB: PgServer;
let serverC: PgServer;
let serverD: PgServer;
const agents: Dcs[] = [];
const clients: pg.Client[] = [];
/** The application's table t (ids) in groups 1 and 2; the tests name each row by a note. */
let citusApp: CitusApp;
const notes = new Map<number, string>();

class FakeMember {
  readonly dcs: Dcs;
  constructor(
    readonly group: number,
    readonly name: string,
    readonly port: number,
  ) {
    this.dcs = new Dcs({ hosts: [etcd.endpoint], namespace: 'service', scope: SCOPE, group, retryTimeout: 5, ttl: 30 });
    agents.push(this.dcs);
  }
  report(role: 'primary' | 'replica', extra: Partial<MemberData> = {}): Promise<void> {
    return this.dcs.touchMember(this.name, {
      conn_url: `postgres://${H}:${this.port}/postgres`,
      api_url: `http://${H}:${this.port + 1000}/patroni`,
      state: 'running',
      role,
      version: '3.0.2',
      ...extra,
    });
  }
  async lead(): Promise<void> {
    assert.equal(await this.dcs.attemptToAcquireLeader(this.name), true);
  }
  async resign(): Promise<void> {
    assert.equal(await this.dcs.deleteLeader(this.name), true);
  }
}

async function connect(server: PgServer): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: server.connectionString(), application_name: 'pause-test' });
  client.on('error', () => {});
  await client.connect();
  clients.push(client);
  return client;
}

/** pg_dist_node as `group role host:port`, sorted. */
async function rows(): Promise<string[]> {
  const r = await coordinator.query<{ g: number; role: string; name: string; port: number }>(
    'SELECT groupid AS g, noderole::text AS role, nodename AS name, nodeport AS port FROM pg_catalog.pg_dist_node',
  );
  return r.rows.map((x) => `${x.g} ${x.role} ${x.name}:${x.port}`).sort();
}

async function primaryOf(group: number): Promise<{ nodeid: number; addr: string }> {
  const r = await coordinator.query<{ nodeid: number; name: string; port: number }>(
    'SELECT nodeid, nodename AS name, nodeport AS port FROM pg_catalog.pg_dist_node ' +
      "WHERE groupid = $1 AND noderole = 'primary'",
    [group],
  );
  return { nodeid: r.rows[0].nodeid, addr: `${r.rows[0].name}:${r.rows[0].port}` };
}

/** An application write through the coordinator to a group, timed; never rejects. */
function routedWrite(client: pg.Client, group: number, note: string) {
  const started = performance.now();
  let settled: { ok: true; at: number } | { ok: false; at: number; error: string } | null = null;
  const done = citusApp
    .nextId(group)
    .then((id) => {
      notes.set(id, note);
      return citusApp.write(client, group, id);
    })
    .then(
      () => (settled = { ok: true, at: performance.now() }),
      (err: Error) => (settled = { ok: false, at: performance.now(), error: err.message }),
    );
  return { started, done, settled: () => settled };
}

async function waitsForLock(client: pg.Client): Promise<boolean> {
  const pid = (client as unknown as { processID: number }).processID;
  const r = await coordinator.query<{ w: string | null }>(
    'SELECT wait_event_type AS w FROM pg_stat_activity WHERE pid = $1',
    [pid],
  );
  return r.rows[0]?.w === 'Lock';
}

/** The notes of the rows `server` holds, sorted. */
async function notesOn(server: PgServer): Promise<string[]> {
  const group = server === serverA || server === serverB ? 1 : 2;
  const ids = await citusApp.rowsOn(group, { connectionString: server.connectionString() });
  return ids.map((id) => notes.get(id) ?? `id ${id}`).sort();
}

before(async () => {
  const small = { shared_buffers: '16MB', max_connections: '40' };
  [etcd, coordinator, serverA, serverB, serverC, serverD] = await Promise.all([
    startEtcd(),
    // The lock helper of a forced citus_update_node connects back through this name.
    createPostgres({ parameters: { ...small, 'citus.local_hostname': H } }),
    createPostgres({ parameters: small }),
    createPostgres({ parameters: small }),
    createPostgres({ parameters: small }),
    createPostgres({ parameters: small }),
  ]);
  // The stand-in everywhere, also where Citus is installed: these servers do not preload it.
  // Worker primaries get metadata copies, so every server that may become one needs it.
  const script = readFileSync(COMPAT_SQL_PATH, 'utf8');
  for (const server of [coordinator, serverA, serverB, serverC, serverD]) await (await connect(server)).query(script);
  sync = startStandInSync({ host: coordinator.host, port: coordinator.port, user: 'postgres', database: 'postgres' });
});

after(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
  for (const dcs of agents) dcs.close();
});

describe('pause protocol on a coordinator and two worker groups', () => {
  let manager: CitusManager;
  let c0: FakeMember, w1a: FakeMember, w1b: FakeMember, w2a: FakeMember, w2b: FakeMember;
  const event = (e: Partial<PauseEvent> & Pick<PauseEvent, 'type' | 'group' | 'leader'>): PauseEvent => ({
    timeout: 20,
    cooldown: 1000,
    ...e,
  });

  before(async () => {
    c0 = new FakeMember(0, 'coord', coordinator.port);
    w1a = new FakeMember(1, 'w1-a', serverA.port);
    w1b = new FakeMember(1, 'w1-b', serverB.port);
    w2a = new FakeMember(2, 'w2-a', serverC.port);
    w2b = new FakeMember(2, 'w2-b', serverD.port);
    for (const [primary, replica] of [
      [c0, null],
      [w1a, w1b],
      [w2a, w2b],
    ] as const) {
      await primary.report('primary');
      await primary.lead();
      await replica?.report('replica');
    }
    const dcs = new Dcs({
      hosts: [etcd.endpoint],
      namespace: 'service',
      scope: SCOPE,
      group: 0,
      retryTimeout: 5,
      ttl: 30,
    });
    agents.push(dcs);
    manager = new CitusManager({
      dcs,
      connect: async () => {
        const client = new pg.Client({
          connectionString: coordinator.connectionString(),
          application_name: 'citus-manager',
        });
        await client.connect();
        return client;
      },
      logger: silentLogger,
      retryTimeout: 5,
      pause: { unplanned: { timeout: 10, cooldownMs: 1000 }, viewWaitMs: 1500 },
    });
    await manager.start();
    assert.deepEqual(
      await rows(),
      [
        `0 primary ${H}:${coordinator.port}`,
        `1 primary ${H}:${serverA.port}`,
        `1 secondary ${H}:${serverB.port}`,
        `2 primary ${H}:${serverC.port}`,
        `2 secondary ${H}:${serverD.port}`,
      ].sort(),
    );
    // t where each group's writes may land: both its servers (they do not replicate), or
    // distributed once the groups are registered.
    citusApp = await CitusApp.detect({ connectionString: coordinator.connectionString() });
    await citusApp.setup(
      1,
      [serverA, serverB].map((s) => ({ connectionString: s.connectionString() })),
    );
    await citusApp.setup(
      2,
      [serverC, serverD].map((s) => ({ connectionString: s.connectionString() })),
    );
  });

  after(async () => {
    await manager?.stop();
    // An open sync connection would keep the process alive, and root hooks wait for that.
    await sync?.stop();
  });

  test(
    'events from a non-leader, for an unknown or non-worker group, or malformed, ' + 'are ignored with their code',
    async () => {
      const before = await rows();
      assert.deepEqual(await manager.handleEvent(event({ type: 'before_demote', group: 1, leader: 'w1-b' })), {
        ok: false,
        refusal: 'not-the-leader',
        message: 'w1-b is not the leader of group 1 (the leader is w1-a)',
      });
      assert.deepEqual(await manager.handleEvent(event({ type: 'before_demote', group: 7, leader: 'w7-a' })), {
        ok: false,
        refusal: 'unknown-group',
        message: 'group 7 is unknown',
      });
      assert.deepEqual(await manager.handleEvent(event({ type: 'before_demote', group: 0, leader: 'coord' })), {
        ok: false,
        refusal: 'not-a-worker-group',
        message: 'group 0 is not a worker group',
      });
      const bad = await manager.handleEvent({
        ...event({ type: 'before_demote', group: 1, leader: 'w1-a' }),
        timeout: -1,
      });
      assert.equal(pauseStatus(bad), 400);
      assert.match(bad.message, /timeout/);
      const notPromoted = await manager.handleEvent(event({ type: 'after_promote', group: 1, leader: 'w1-b' }));
      assert.equal(pauseStatus(notPromoted), 409);
      assert.match(notPromoted.message, /w1-b is not the leader of group 1/);
      assert.equal(manager.pauseStats().opened, 0);
      assert.deepEqual(await rows(), before);
    },
  );

  test(
    'a routed write to group 1 waits during a before_demote pause ' +
      'and lands on the new primary after after_promote',
    async (t) => {
      const app = await connect(coordinator);
      const nodeid = (await primaryOf(1)).nodeid;
      const t0 = performance.now();
      const answer = await manager.handleEvent(event({ type: 'before_demote', group: 1, leader: 'w1-a' }));
      t.diagnostic(`before_demote answered in ${(performance.now() - t0).toFixed(1)} ms: ${answer.message}`);
      assert.equal(answer.ok, true, answer.message);
      assert.equal(pauseStatus(answer), 200);

      const write = routedWrite(app, 1, 'during switchover');
      await waitFor(() => waitsForLock(app), { ...WAIT, message: 'routed write waits on the paused group' });
      // A retried before_demote neither opens a second pause nor moves the deadline.
      const again = await manager.handleEvent(event({ type: 'before_demote', group: 1, leader: 'w1-a', timeout: 60 }));
      assert.equal(again.ok, true);
      assert.match(again.message, /already paused; its deadline stays/);
      assert.equal(manager.pauseStats().opened, 1);
      assert.equal(write.settled(), null);

      // The switchover as etcd sees it: the old leader steps down and replicates, the candidate leads.
      await w1a.resign();
      await w1a.report('replica');
      await w1b.report('primary');
      await w1b.lead();
      const promoted = await manager.handleEvent(event({ type: 'after_promote', group: 1, leader: 'w1-b' }));
      assert.equal(promoted.ok, true, promoted.message);
      await write.done;
      const result = write.settled();
      assert.ok(result?.ok, JSON.stringify(result));
      t.diagnostic(
        `write waited ${(result.at - write.started).toFixed(1)} ms; ` +
          `pause ${manager.pauseStats().durationsMs.at(-1)} ms`,
      );
      assert.deepEqual(await notesOn(serverB), ['during switchover']);
      assert.deepEqual(await notesOn(serverA), []);
      assert.deepEqual(await primaryOf(1), { nodeid, addr: `${H}:${serverB.port}` });
      await waitFor(async () => (await rows()).includes(`1 secondary ${H}:${serverA.port}`), {
        ...WAIT,
        message: 'w1-a registered as secondary',
      });
      assert.ok(!(await rows()).some((r) => r.includes('-demoted')));
      const stats = manager.pauseStats();
      assert.deepEqual([stats.opened, stats.committed, stats.rolledBack, stats.open], [1, 1, 0, []]);
    },
  );

  test('a held pause of group 1 does not delay registration of a change in group 2', async (t) => {
    const paused = await manager.handleEvent(event({ type: 'before_demote', group: 1, leader: 'w1-b' }));
    assert.equal(paused.ok, true, paused.message);
    const app = await connect(coordinator);
    const blocked = routedWrite(app, 1, 'behind the pause');
    await waitFor(() => waitsForLock(app), { ...WAIT, message: 'routed write to group 1 waits' });

    // Group 2's primary starts advertising a pooler (its own port stands in for one): a
    // poolinfo row for its nodeid.
    const group2 = (await primaryOf(2)).nodeid;
    const t0 = performance.now();
    await w2a.report('primary', { proxy_url: `postgres://${H}:${serverC.port}/postgres` });
    await waitFor(
      async () =>
        (
          await coordinator.query('SELECT 1 FROM pg_catalog.pg_dist_poolinfo WHERE nodeid = $1 AND poolinfo = $2', [
            group2,
            `host=${H} port=${serverC.port}`,
          ])
        ).rowCount === 1,
      { ...WAIT, message: 'group 2 poolinfo registered' },
    );
    t.diagnostic(
      `group 2 change registered ${(performance.now() - t0).toFixed(1)} ms after its member key write, ` +
        'while group 1 was paused',
    );
    // It landed while group 1 was still paused, so the pause did not hold it back.
    assert.deepEqual(manager.pauseStats().held, [1]);
    assert.equal(blocked.settled(), null);
    // And group 2's writes flow meanwhile.
    const other = routedWrite(await connect(coordinator), 2, 'group 2 during group 1 pause');
    await other.done;
    assert.ok(other.settled()?.ok, JSON.stringify(other.settled()));

    // A restart of w1-b: the same leader reports back as running primary.
    const resumed = await manager.handleEvent(event({ type: 'after_promote', group: 1, leader: 'w1-b' }));
    assert.equal(resumed.ok, true, resumed.message);
    await blocked.done;
    assert.ok(blocked.settled()?.ok);
    assert.ok((await notesOn(serverB)).includes('behind the pause'));
    assert.equal((await primaryOf(1)).addr, `${H}:${serverB.port}`);
  });

  test(
    'a pause whose after_promote never comes is rolled back at its deadline; ' +
      'the reconcile then follows the new leader',
    async (t) => {
      const app = await connect(coordinator);
      const timeout = 3;
      const rolledBefore = manager.pauseStats().rolledBack;
      const t0 = performance.now();
      const paused = await manager.handleEvent(event({ type: 'before_demote', group: 1, leader: 'w1-b', timeout }));
      assert.equal(paused.ok, true, paused.message);
      const write = routedWrite(app, 1, 'after the deadline');
      await waitFor(() => waitsForLock(app), { ...WAIT, message: 'routed write waits' });
      // w1-a takes the lock but dies before it runs as primary: nobody sends after_promote.
      await w1b.resign();
      await w1b.report('replica');
      await w1a.lead();

      await write.done;
      const result = write.settled();
      assert.ok(result?.ok, JSON.stringify(result));
      const late = result.at - (t0 + timeout * 1000);
      t.diagnostic(
        `write released ${late.toFixed(1)} ms after the deadline (pause ${manager.pauseStats().durationsMs.at(-1)} ms)`,
      );
      assert.ok(late >= 0, `released ${late.toFixed(1)} ms before the deadline`);
      assert.ok(late < 1000, `released ${late.toFixed(1)} ms after the deadline`);
      // Rolled back: the write went to the old address, the row was never moved.
      assert.ok((await notesOn(serverB)).includes('after the deadline'));
      // The server releases the write as the ROLLBACK runs; the counter moves once it returns.
      await waitFor(() => manager.pauseStats().rolledBack === rolledBefore + 1, {
        ...WAIT,
        message: 'the rollback is counted once',
      });
      assert.equal(manager.pauseStats().rolledBack, rolledBefore + 1);
      assert.equal((await primaryOf(1)).addr, `${H}:${serverB.port}`);

      // w1-a runs as primary at last: the ordinary reconcile repoints the row.
      await w1a.report('primary');
      await waitFor(async () => (await primaryOf(1)).addr === `${H}:${serverA.port}`, {
        ...WAIT,
        message: 'group 1 repointed to w1-a',
      });
    },
  );

  test('a vanished worker leader key opens a pause that commits once the new leader runs as primary', async (t) => {
    const app = await connect(coordinator);
    const stats0 = manager.pauseStats();
    const nodeid = (await primaryOf(2)).nodeid;
    // w2-a dies: its keys go (lease expiry); no before_demote.
    await w2a.resign();
    await w2a.dcs.deleteMember('w2-a');
    await waitFor(() => manager.pauseStats().held.includes(2), { ...WAIT, message: 'unplanned pause of group 2 held' });
    const write = routedWrite(app, 2, 'during failover');
    await waitFor(() => waitsForLock(app), { ...WAIT, message: 'routed write to group 2 waits' });

    await w2b.report('primary');
    const t0 = performance.now();
    await w2b.lead();
    await write.done;
    assert.ok(write.settled()?.ok, JSON.stringify(write.settled()));
    t.diagnostic(`write released ${(performance.now() - t0).toFixed(1)} ms after the new leader key`);
    assert.deepEqual(await notesOn(serverD), ['during failover']);
    assert.deepEqual(await primaryOf(2), { nodeid, addr: `${H}:${serverD.port}` });
    // The server releases the write at COMMIT; the counter moves once the COMMIT returns.
    await waitFor(() => manager.pauseStats().committed === stats0.committed + 1, {
      ...WAIT,
      message: 'the commit is counted once',
    });
    const stats = manager.pauseStats();
    assert.equal(stats.opened, stats0.opened + 1);
    assert.equal(stats.committed, stats0.committed + 1);
    assert.deepEqual(stats.open, []);
  });

  test(
    'the deadline also ends a before_demote still waiting for its locks, ' + 'without touching the blocker',
    async (t) => {
      // An application transaction holds group 2's shard lock in share mode, as a long routed write does.
      const blocker = await connect(coordinator);
      await blocker.query('BEGIN');
      await blocker.query('SELECT pg_catalog.pg_advisory_xact_lock_shared(citus_compat.group_lock_key(), 2)');
      const rolledBefore = manager.pauseStats().rolledBack;
      const timeout = 2;
      const t0 = performance.now();
      // A cooldown past the deadline: the lock helper never gets to end the blocker.
      const answer = await manager.handleEvent(
        event({ type: 'before_demote', group: 2, leader: 'w2-b', timeout, cooldown: 60_000 }),
      );
      const late = performance.now() - (t0 + timeout * 1000);
      t.diagnostic(`before_demote answered ${late.toFixed(1)} ms after the deadline: ${answer.message}`);
      assert.equal(answer.ok, false);
      assert.equal(pauseStatus(answer), 503);
      assert.ok(late >= 0 && late < 1000, `answered ${late.toFixed(1)} ms after the deadline`);
      const stats = manager.pauseStats();
      assert.equal(stats.rolledBack, rolledBefore + 1);
      assert.deepEqual(stats.open, []);
      // The blocker lives on, and nothing of the pause is left on the coordinator. The reconcile
      // the rollback triggers is in a transaction for a few milliseconds at a time; a pause's
      // transaction left open would stay idle in it until its server-side limit, seconds later.
      await blocker.query('COMMIT');
      await waitFor(
        async () =>
          (
            await coordinator.query(
              "SELECT 1 FROM pg_stat_activity WHERE application_name = 'citus-manager' " +
                "AND state LIKE 'idle in transaction%'",
            )
          ).rowCount === 0,
        { timeout: 1000, interval: 10, message: 'no transaction of the manager stays open' },
      );
      assert.equal((await primaryOf(2)).addr, `${H}:${serverD.port}`);
    },
  );

  test(
    'after_promote while the old primary is not yet a running replica (seen on real Citus): ' +
      "the pause commits with update_node only; the old primary's row goes once synced and comes back with it",
    async (t) => {
      const oldIsA = (await primaryOf(1)).addr === `${H}:${serverA.port}`;
      const [current, next] = oldIsA ? [w1a, w1b] : [w1b, w1a];
      const [oldServer, newServer] = oldIsA ? [serverA, serverB] : [serverB, serverA];
      const rolledBefore = manager.pauseStats().rolledBack;
      const nodeid = (await primaryOf(1)).nodeid;
      const paused = await manager.handleEvent(event({ type: 'before_demote', group: 1, leader: current.name }));
      assert.equal(paused.ok, true, paused.message);
      const app = await connect(coordinator);
      const write = routedWrite(app, 1, 'during the race');
      await waitFor(() => waitsForLock(app), { ...WAIT, message: 'routed write waits on the paused group' });

      // The new primary reports in while the old one is still down: no running replica behind its address.
      await current.resign();
      await current.report('replica', { state: 'stopped' });
      await next.report('primary');
      await next.lead();
      const promoted = await manager.handleEvent(event({ type: 'after_promote', group: 1, leader: next.name }));
      assert.equal(promoted.ok, true, promoted.message);
      await write.done;
      assert.ok(write.settled()?.ok, JSON.stringify(write.settled()));
      assert.ok((await notesOn(newServer)).includes('during the race'), 'the write landed on the new primary');
      assert.ok(!(await notesOn(oldServer)).includes('during the race'));
      assert.deepEqual(await primaryOf(1), { nodeid, addr: `${H}:${newServer.port}` });
      assert.equal(manager.pauseStats().rolledBack, rolledBefore, 'the pause committed');
      // Once Citus synced the metadata workers, the row of the stopped node is removed ...
      await waitFor(async () => !(await rows()).includes(`1 secondary ${H}:${oldServer.port}`), {
        ...WAIT,
        message: "the stopped node's row removed",
      });
      // ... and registered again when it runs as a replica.
      await current.report('replica');
      await waitFor(async () => (await rows()).includes(`1 secondary ${H}:${oldServer.port}`), {
        ...WAIT,
        message: 'the old primary back as secondary',
      });
      t.diagnostic(`pause ${manager.pauseStats().durationsMs.at(-1)} ms`);
    },
  );
});
