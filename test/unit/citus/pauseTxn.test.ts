// A pause's transaction against an in-memory coordinator: which calls hold the locks (Citus
// 12.1+'s citus_pause_node_within_txn, else the rename), what the commit runs, and how an
// abandoned pause ends (ROLLBACK when idle, the backend terminated when a statement runs).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { DEFAULT_PLAN_OPTIONS } from '../../../src/citus/plan.ts';
import { DEMOTED_SUFFIX, PauseTransaction, type PauseConnection } from '../../../src/citus/pauseTxn.ts';
import type { PgDistNodeRow } from '../../../src/citus/types.ts';
import type { ClusterView, Member } from '../../../src/dcs/types.ts';
import { silentLogger } from '../../../src/log.ts';
import { groupView, member as planMember, row, sec } from './planCases.ts';

/** The coordinator as the pause sees it: pg_dist_node, a transaction, calls made. */
class FakeCoordinator {
  committed: PgDistNodeRow[];
  working: PgDistNodeRow[];
  readonly calls: string[] = [];
  readonly terminated: number[] = [];
  readonly ended: number[] = [];
  private nextPid = 100;
  /** A statement matching this never answers (a lock wait). */
  hangOn: RegExp | null = null;

  constructor(
    rows: PgDistNodeRow[],
    readonly canPause: boolean,
  ) {
    this.committed = rows.map((r) => ({ ...r }));
    this.working = this.committed;
  }

  connect = async (): Promise<PauseConnection> => {
    const pid = this.nextPid++;
    const result = (rows: Record<string, unknown>[]) => ({ rows, rowCount: rows.length }) as unknown as pg.QueryResult;
    return {
      query: (text: string, values: unknown[] = []) => {
        const sql = text.replace(/\s+/g, ' ').trim();
        this.calls.push(
          sql.startsWith('SELECT pg_catalog.citus')
            ? `${sql.slice(18, sql.indexOf('('))}(${values.join(', ')})`
            : sql.split(' ').slice(0, 2).join(' '),
        );
        if (this.hangOn?.test(sql)) return new Promise<pg.QueryResult>(() => undefined);
        if (sql.includes('pg_backend_pid')) return Promise.resolve(result([{ pid }]));
        if (sql === 'BEGIN') this.working = this.committed.map((r) => ({ ...r }));
        if (sql === 'COMMIT') this.committed = this.working;
        if (sql === 'ROLLBACK') this.working = this.committed;
        if (sql.includes('can_pause')) {
          const p = this.working.find((r) => r.groupid === values[0] && r.noderole === 'primary');
          return Promise.resolve(
            result(
              p ? [{ nodeid: p.nodeid, nodename: p.nodename, nodeport: p.nodeport, can_pause: this.canPause }] : [],
            ),
          );
        }
        if (sql.includes('citus_update_node')) {
          const r = this.working.find((x) => x.nodeid === values[0]);
          if (r) Object.assign(r, { nodename: values[1], nodeport: values[2] });
        }
        if (sql.includes('FROM pg_catalog.pg_dist_node ORDER BY nodeid'))
          return Promise.resolve(result(this.working.map((r) => ({ ...r }))));
        if (sql.includes('pg_terminate_backend')) this.terminated.push(Number(values[0]));
        return Promise.resolve(result([]));
      },
      end: async () => {
        this.ended.push(pid);
      },
    };
  };
}

const member = (name: string, port: number, role: string): Member =>
  planMember(name, 'h', role, 'running', { conn_url: `postgres://h:${port}/postgres` });
/** Group 1 failed over from w1a (port 1) to w1b (port 2); w1a is not back yet. */
const promoted: ClusterView = {
  revision: '9',
  groups: [groupView(0, 'c', [member('c', 9, 'primary')]), groupView(1, 'w1b', [member('w1b', 2, 'primary')])],
};
const restarted: ClusterView = {
  revision: '9',
  groups: [groupView(0, 'c', [member('c', 9, 'primary')]), groupView(1, 'w1a', [member('w1a', 1, 'primary')])],
};
const startRows = () => [row(1, 0, 'h', 9), row(2, 1, 'h', 1), sec(3, 1, 'h', 2)];
const txnOn = (db: FakeCoordinator) =>
  new PauseTransaction({
    group: 1,
    connect: db.connect,
    timeoutMs: 5000,
    cooldownMs: 1000,
    planOptions: DEFAULT_PLAN_OPTIONS,
    logger: silentLogger,
  });
const addresses = (rows: PgDistNodeRow[]) => rows.map((r) => `${r.nodeid} ${r.noderole} ${r.nodename}:${r.nodeport}`);

describe('pause transaction', () => {
  test('holds the locks with citus_pause_node_within_txn where Citus has it, renaming nothing', async () => {
    const db = new FakeCoordinator(startRows(), true);
    const held = await txnOn(db).hold();
    assert.deepEqual(held, { held: true, nodeid: 2, method: 'pause' });
    assert.ok(db.calls.includes('citus_pause_node_within_txn(2, 1000)'), db.calls.join('\n'));
    assert.ok(!db.calls.some((c) => c.startsWith('citus_update_node')));
    assert.deepEqual(addresses(db.working), addresses(startRows()));
  });

  test('on older Citus it renames the primary row to a name that does not resolve', async () => {
    const db = new FakeCoordinator(startRows(), false);
    assert.deepEqual(await txnOn(db).hold(), { held: true, nodeid: 2, method: 'rename' });
    assert.ok(db.calls.includes(`citus_update_node(2, h${DEMOTED_SUFFIX}, 1, 1000)`), db.calls.join('\n'));
  });

  test('a group without a primary row has nothing to hold', async () => {
    const db = new FakeCoordinator([row(1, 0, 'h', 9)], true);
    assert.deepEqual(await txnOn(db).hold(), { held: false, reason: 'group 1 has no primary row in pg_dist_node' });
  });

  for (const canPause of [true, false]) {
    test(
      `after a failover to the registered secondary the commit swaps the rows' addresses ` +
        `with update_node only (${canPause ? 'pause' : 'rename'})`,
      async () => {
        const db = new FakeCoordinator(startRows(), canPause);
        const txn = txnOn(db);
        await txn.hold();
        const done = await txn.commitRepoint(promoted);
        assert.equal(done.target.member, 'w1b');
        assert.equal(done.moved, true, 'the caller recovers prepared transactions after the move');
        assert.ok(!db.calls.some((c) => c.includes('recover_prepared')), "not inside the pause's path");
        assert.deepEqual(addresses(db.committed), ['1 primary h:9', '2 primary h:2', '3 secondary h:1']);
        assert.ok(!db.calls.some((c) => /citus_(add|remove)_node/.test(c)), 'no add or remove inside a pause');
      },
    );
  }

  test('back on the same node after a restart: the rename is undone, nothing else moves', async () => {
    const db = new FakeCoordinator(startRows(), false);
    const txn = txnOn(db);
    await txn.hold();
    const done = await txn.commitRepoint(restarted);
    assert.equal(done.moved, false);
    assert.deepEqual(addresses(db.committed), addresses(startRows()));
  });

  test('abandoned while idle: ROLLBACK, and the connection is closed', async () => {
    const db = new FakeCoordinator(startRows(), true);
    const txn = txnOn(db);
    await txn.hold();
    await txn.abandon();
    assert.equal(db.calls.at(-1), 'ROLLBACK');
    assert.deepEqual(db.terminated, []);
    assert.equal(db.ended.length, 1);
  });

  test('abandoned during a lock wait: the backend is terminated from a second connection', async () => {
    const db = new FakeCoordinator(startRows(), true);
    db.hangOn = /^SELECT pg_catalog\.citus_pause_node_within_txn/;
    const txn = txnOn(db);
    void txn.hold();
    const deadline = Date.now() + 2000;
    while (!db.calls.some((c) => c.startsWith('citus_pause_node_within_txn'))) {
      assert.ok(Date.now() < deadline, 'the pause reaches citus_pause_node_within_txn');
      await new Promise((r) => setImmediate(r));
    }
    await txn.abandon();
    assert.deepEqual(db.terminated, [100], 'the pause backend (pid 100) is terminated');
    assert.ok(!db.calls.includes('ROLLBACK'));
  });
});
