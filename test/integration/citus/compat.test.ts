// The Citus stand-in (sql/citus-compat.sql) on real PostgreSQL: a coordinator and three workers
// with the stand-in installed (so metadata workers keep their copies), routed writes landing on
// different servers. The facts it is held to are in conformance.test.ts; these are its details.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { afterEach, before, beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { COMPAT_SQL_PATH, ensureCitus } from '../../../src/citus/extension.ts';
import { createPostgres, useHarness, waitFor, type PgServer } from '../../harness/index.ts';

useHarness();

const WAIT = { timeout: 15_000, interval: 20 };

let coordinator: PgServer;
/** w1 and w2 take turns as group 1's primary; w3 is group 2's. */
let w1: PgServer;
let w2: PgServer;
let w3: PgServer;
const clients: pg.Client[] = [];

async function connect(server: PgServer): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: server.connectionString() });
  // A backend terminated on purpose must not crash the run.
  client.on('error', () => {});
  await client.connect();
  clients.push(client);
  return client;
}

async function pidOf(client: pg.Client): Promise<number> {
  const r = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return r.rows[0].pid;
}

/** True once the backend waits for a heavyweight lock (a row lock shows as one). */
async function waitsForLock(pid: number): Promise<boolean> {
  const r = await coordinator.query<{ wait_event_type: string | null }>(
    'SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1',
    [pid],
  );
  return r.rows[0]?.wait_event_type === 'Lock';
}

async function rowsOn(server: PgServer): Promise<string[]> {
  const r = await server.query<{ note: string }>('SELECT note FROM t ORDER BY note');
  return r.rows.map((row) => row.note);
}

async function addNode(name: string, port: number, group: number): Promise<number> {
  const r = await coordinator.query<{ id: number }>('SELECT citus_add_node($1, $2, $3) AS id', [name, port, group]);
  return r.rows[0].id;
}

/** Tracks whether a promise has settled, for "still waiting" assertions. */
function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  return { promise, settled: () => done };
}

async function sqlError(promise: Promise<unknown>): Promise<{ message: string; code?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { message: string; code?: string };
  }
  assert.fail('expected an SQL error');
}

/** Runs the stand-in's script as such: ensureCitus would CREATE EXTENSION citus where Citus exists. */
async function installStandIn(server: PgServer): Promise<void> {
  await server.query(await readFile(COMPAT_SQL_PATH, 'utf8'));
}

const E2 = / is a metadata node, but is out of sync$/;

before(async () => {
  const small = { shared_buffers: '16MB', max_connections: '30' };
  [coordinator, w1, w2, w3] = await Promise.all([
    // The lock helper of force => true connects back to the server through this name.
    createPostgres({ parameters: { ...small, 'citus.local_hostname': '127.0.0.1' } }),
    createPostgres({ parameters: small }),
    createPostgres({ parameters: small }),
    createPostgres({ parameters: small }),
  ]);
  for (const worker of [w1, w2, w3]) await worker.query('CREATE TABLE t (note text)');
  for (const server of [coordinator, w1, w2, w3]) await installStandIn(server);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
});

beforeEach(async () => {
  await coordinator.query('DELETE FROM pg_dist_node');
  await coordinator.query('DELETE FROM pg_dist_authinfo');
  for (const worker of [w1, w2, w3]) await worker.query('TRUNCATE t');
});

describe('install', () => {
  test('ensureCitus installs the stand-in when the server has no citus, and says so loudly', async (t) => {
    const available = await coordinator.query("SELECT 1 FROM pg_available_extensions WHERE name = 'citus'");
    if (available.rowCount !== 0) {
      t.skip('this server has Citus: ensureCitus would CREATE EXTENSION citus, which needs shared_preload_libraries');
      return;
    }
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const client = await connect(coordinator);
    const installed = await ensureCitus(client, { logger });
    assert.deepEqual(installed, { kind: 'stand-in', version: '1.1' });
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].msg, /CITUS IS NOT INSTALLED/);
    const version = await coordinator.query<{ v: string }>('SELECT citus_version() AS v');
    assert.match(version.rows[0].v, /stand-in/);
  });

  test('installing twice keeps the rows and the sequences', async () => {
    const first = await addNode('127.0.0.1', w1.port, 1);
    await installStandIn(coordinator);
    await installStandIn(coordinator);
    const rows = await coordinator.query('SELECT nodeid FROM pg_dist_node');
    assert.deepEqual(rows.rows, [{ nodeid: first }]);
    assert.ok((await addNode('127.0.0.1', w3.port, 2)) > first);
  });
});

describe('catalog', () => {
  test("pg_dist_node has Citus's columns, types, defaults and nullability", async () => {
    const r = await coordinator.query<{ name: string; type: string; notnull: boolean; def: string | null }>(`
      SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
             pg_get_expr(d.adbin, d.adrelid) AS def
        FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = 'pg_catalog.pg_dist_node'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum`);
    assert.deepEqual(
      r.rows.map((c) => [c.name, c.type, c.notnull, c.def]),
      [
        ['nodeid', 'integer', true, "nextval('pg_dist_node_nodeid_seq'::regclass)"],
        ['groupid', 'integer', true, "nextval('pg_dist_groupid_seq'::regclass)"],
        ['nodename', 'text', true, null],
        ['nodeport', 'integer', true, '5432'],
        ['noderack', 'text', true, "'default'::text"],
        ['hasmetadata', 'boolean', true, 'false'],
        ['isactive', 'boolean', true, 'true'],
        ['noderole', 'noderole', true, "'primary'::noderole"],
        ['nodecluster', 'name', true, "'default'::name"],
        ['metadatasynced', 'boolean', false, 'false'],
        ['shouldhaveshards', 'boolean', true, 'true'],
      ],
    );
    const enumValues = await coordinator.query<{ v: string }>(
      'SELECT unnest(enum_range(NULL::pg_catalog.noderole))::text AS v',
    );
    assert.deepEqual(
      enumValues.rows.map((e) => e.v),
      ['primary', 'secondary', 'unavailable'],
    );
    const constraints = await coordinator.query<{ def: string }>(
      'SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint ' +
        "WHERE conrelid = 'pg_catalog.pg_dist_node'::regclass ORDER BY conname",
    );
    assert.deepEqual(
      constraints.rows.map((c) => c.def),
      [
        'UNIQUE (nodename, nodeport)',
        'PRIMARY KEY (nodeid)',
        "CHECK ((NOT ((nodecluster <> 'default'::name) AND (noderole = 'primary'::noderole))))",
      ],
    );
  });

  test('pg_dist_poolinfo and pg_dist_authinfo have Citus columns and keys', async () => {
    const columns = await coordinator.query<{ rel: string; name: string; type: string }>(`
      SELECT a.attrelid::regclass::text AS rel, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
        FROM pg_attribute a
       WHERE a.attrelid IN ('pg_catalog.pg_dist_poolinfo'::regclass, 'pg_catalog.pg_dist_authinfo'::regclass)
         AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY 1, a.attnum`);
    assert.deepEqual(
      columns.rows.map((c) => `${c.rel}.${c.name} ${c.type}`),
      [
        'pg_dist_authinfo.nodeid integer',
        'pg_dist_authinfo.rolename name',
        'pg_dist_authinfo.authinfo text',
        'pg_dist_poolinfo.nodeid integer',
        'pg_dist_poolinfo.poolinfo text',
      ],
    );
    const id = await addNode('127.0.0.1', w1.port, 1);
    // the upsert the manager writes, keyed as Citus keys it
    const upsert = `INSERT INTO pg_catalog.pg_dist_authinfo VALUES (0, current_user, $1)
                    ON CONFLICT (nodeid, rolename) DO UPDATE SET authinfo = EXCLUDED.authinfo`;
    await coordinator.query(upsert, ['password=one']);
    await coordinator.query(upsert, ['password=two']);
    const auth = await coordinator.query('SELECT authinfo FROM pg_dist_authinfo');
    assert.deepEqual(auth.rows, [{ authinfo: 'password=two' }]);
    const badPool = await sqlError(coordinator.query("INSERT INTO pg_dist_poolinfo VALUES ($1, 'password=x')", [id]));
    assert.match(badPool.message, /poolinfo_valid/);
    const orphan = await sqlError(coordinator.query("INSERT INTO pg_dist_poolinfo VALUES (999999, 'port=1')"));
    assert.equal(orphan.code, '23503');
  });
});

describe('node functions', () => {
  test(
    'citus_add_node returns the existing id for a known address ' + 'and takes new groups from the sequence',
    async () => {
      const add = "SELECT citus_add_node('127.0.0.1', $1) AS id";
      const a = await coordinator.query<{ id: number }>(add, [w1.port]);
      const again = await coordinator.query<{ id: number }>("SELECT citus_add_node('127.0.0.1', $1, 42) AS id", [
        w1.port,
      ]);
      assert.equal(again.rows[0].id, a.rows[0].id);
      await coordinator.query(add, [w2.port]);
      const rows = await coordinator.query<{ groupid: number; hasmetadata: boolean; metadatasynced: boolean }>(
        'SELECT groupid, hasmetadata, metadatasynced FROM pg_dist_node ORDER BY nodeid',
      );
      assert.equal(rows.rows.length, 2);
      assert.ok(rows.rows[0].groupid > 0 && rows.rows[1].groupid > rows.rows[0].groupid);
      assert.ok(rows.rows.every((r) => r.hasmetadata && r.metadatasynced));
    },
  );

  test('citus_add_node refuses a second primary in a group', async () => {
    await addNode('127.0.0.1', w1.port, 5);
    const err = await sqlError(addNode('10.0.0.2', 5432, 5));
    assert.equal(err.message, 'group 5 already has a primary node');
    assert.equal(err.code, 'XX000');
  });

  test("activating a new worker primary gives it the coordinator's metadata and its group", async () => {
    await coordinator.query("SELECT citus_set_coordinator_host('127.0.0.1', $1)", [coordinator.port]);
    const id = await addNode('127.0.0.1', w1.port, 4);
    const copy = await w1.query('SELECT nodeid, groupid FROM pg_dist_node ORDER BY nodeid');
    const local = await w1.query('SELECT groupid FROM pg_dist_local_group');
    assert.deepEqual(copy.rows.at(-1), { nodeid: id, groupid: 4 });
    assert.equal(copy.rowCount, 2);
    assert.deepEqual(local.rows, [{ groupid: 4 }]);
  });

  test("adds and removes reach every metadata worker's copy", async () => {
    await addNode('127.0.0.1', w1.port, 1);
    await addNode('127.0.0.1', w3.port, 2);
    const secondary = await coordinator.query<{ id: number }>(
      "SELECT citus_add_secondary_node('10.0.0.2', 5432, '127.0.0.1', $1) AS id",
      [w1.port],
    );
    const has = async (worker: PgServer): Promise<boolean> =>
      (await worker.query('SELECT 1 FROM pg_dist_node WHERE nodeid = $1', [secondary.rows[0].id])).rowCount === 1;
    assert.deepEqual([await has(w1), await has(w3)], [true, true]);
    await coordinator.query("SELECT citus_remove_node('10.0.0.2', 5432)");
    assert.deepEqual([await has(w1), await has(w3)], [false, false]);
  });

  test('citus_add_node refuses a primary outside the default cluster', async () => {
    const err = await sqlError(coordinator.query("SELECT citus_add_node('10.0.0.1', 5432, 5, 'primary', 'other')"));
    assert.equal(err.message, 'primaries must be added to the default cluster');
  });

  test("citus_add_secondary_node joins the primary's group as an active secondary", async () => {
    await addNode('127.0.0.1', w1.port, 3);
    await coordinator.query("SELECT citus_add_secondary_node('10.0.0.2', 5432, '127.0.0.1', $1)", [w1.port]);
    const r = await coordinator.query(
      "SELECT groupid, noderole::text, isactive, hasmetadata FROM pg_dist_node WHERE nodename = '10.0.0.2'",
    );
    assert.deepEqual(r.rows, [{ groupid: 3, noderole: 'secondary', isactive: true, hasmetadata: false }]);
    const err = await sqlError(coordinator.query("SELECT citus_add_secondary_node('10.0.0.3', 5432, 'nowhere', 1)"));
    assert.equal(err.message, 'node at "nowhere:1" does not exist');
  });

  test('citus_update_node moves a node and keeps its id', async () => {
    const id = await addNode('127.0.0.1', w1.port, 1);
    await coordinator.query("SELECT citus_update_node($1, '10.0.0.9', 6543)", [id]);
    const r = await coordinator.query('SELECT nodeid, nodename, nodeport FROM pg_dist_node');
    assert.deepEqual(r.rows, [{ nodeid: id, nodename: '10.0.0.9', nodeport: 6543 }]);
  });

  test('citus_update_node of an unknown node id fails with "node N not found"', async () => {
    const err = await sqlError(coordinator.query("SELECT citus_update_node(987654, '10.0.0.9', 1)"));
    assert.equal(err.message, 'node 987654 not found');
    assert.equal(err.code, 'P0002');
  });

  test("citus_update_node to another node's address fails", async () => {
    const id = await addNode('127.0.0.1', w1.port, 1);
    await addNode('127.0.0.1', w2.port, 2);
    const err = await sqlError(coordinator.query("SELECT citus_update_node($1, '127.0.0.1', $2)", [id, w2.port]));
    assert.equal(err.message, 'there is already another node with the specified hostname and port');
    assert.equal(err.code, '55000');
  });

  test('citus_remove_node removes the row with its poolinfo, and fails for an unknown node', async () => {
    const id = await addNode('127.0.0.1', w1.port, 1);
    await coordinator.query("INSERT INTO pg_dist_poolinfo VALUES ($1, 'host=127.0.0.1')", [id]);
    await coordinator.query("SELECT citus_remove_node('127.0.0.1', $1)", [w1.port]);
    const left = await coordinator.query(
      'SELECT (SELECT count(*) FROM pg_dist_node) + (SELECT count(*) FROM pg_dist_poolinfo) AS n',
    );
    assert.equal(Number(left.rows[0].n), 0);
    const err = await sqlError(coordinator.query("SELECT citus_remove_node('10.0.0.1', 5432)"));
    assert.equal(err.message, 'node at "10.0.0.1:5432" does not exist');
    assert.equal(err.code, 'XX000');
  });

  test('citus_set_coordinator_host adds group 0 without shards, then moves it in place', async () => {
    await coordinator.query("SELECT citus_set_coordinator_host('10.0.0.100')");
    const added = await coordinator.query<{ nodeid: number }>(
      'SELECT nodeid, groupid, nodename, nodeport, shouldhaveshards, hasmetadata FROM pg_dist_node',
    );
    assert.deepEqual(added.rows, [
      {
        nodeid: added.rows[0].nodeid,
        groupid: 0,
        nodename: '10.0.0.100',
        nodeport: coordinator.port,
        shouldhaveshards: false,
        hasmetadata: true,
      },
    ]);
    await coordinator.query("SELECT citus_set_coordinator_host('10.0.0.101', 5999, 'primary', 'default')");
    const moved = await coordinator.query('SELECT nodeid, nodename, nodeport FROM pg_dist_node');
    assert.deepEqual(moved.rows, [{ nodeid: added.rows[0].nodeid, nodename: '10.0.0.101', nodeport: 5999 }]);
  });

  test('citus_add_node refuses a worker while the coordinator is registered as localhost', async () => {
    await coordinator.query("SELECT citus_set_coordinator_host('localhost', 5432)");
    const err = await sqlError(addNode('10.0.0.1', 5432, 1));
    assert.equal(err.message, 'cannot add a worker node when the coordinator hostname is set to localhost');
  });

  test('citus_set_node_property sets shouldhaveshards and refuses anything else', async () => {
    await addNode('127.0.0.1', w1.port, 1);
    const set = "SELECT citus_set_node_property('127.0.0.1', $1, $2, false)";
    await coordinator.query(set, [w1.port, 'shouldhaveshards']);
    const r = await coordinator.query('SELECT shouldhaveshards FROM pg_dist_node');
    assert.deepEqual(r.rows, [{ shouldhaveshards: false }]);
    // the metadata worker's copy follows at once
    assert.deepEqual((await w1.query('SELECT shouldhaveshards FROM pg_dist_node')).rows, [{ shouldhaveshards: false }]);
    const err = await sqlError(coordinator.query(set, [w1.port, 'isactive']));
    assert.equal(err.message, "only the 'shouldhaveshards' property can be set using this function");
    const unknown = await sqlError(
      coordinator.query("SELECT citus_set_node_property('x', 1, 'shouldhaveshards', true)"),
    );
    assert.equal(unknown.message, 'node at "x:1" does not exist');
  });
});

describe('routed writes and the locks of an address change', () => {
  let group1: number;

  beforeEach(async () => {
    group1 = await addNode('127.0.0.1', w1.port, 1);
    await addNode('127.0.0.1', w3.port, 2);
  });

  function routedWrite(client: pg.Client, group: number, note: string): Promise<number> {
    return client
      .query<{ n: string }>('SELECT citus_compat.routed_write($1, $2) AS n', [
        group,
        `INSERT INTO t VALUES ('${note}')`,
      ])
      .then((r) => Number(r.rows[0].n));
  }

  /** Opens a transaction that moves group 1's primary from w1 to w2 and leaves it open. */
  async function openAddressChange(): Promise<pg.Client> {
    const mover = await connect(coordinator);
    await mover.query('BEGIN');
    await mover.query("SELECT citus_update_node($1, '127.0.0.1', $2)", [group1, w2.port]);
    return mover;
  }

  test("a routed write goes to its group's primary and returns the affected rows", async () => {
    const app = await connect(coordinator);
    assert.equal(await routedWrite(app, 1, 'one'), 1);
    assert.equal(await routedWrite(app, 2, 'two'), 1);
    assert.deepEqual(await rowsOn(w1), ['one']);
    assert.deepEqual(await rowsOn(w3), ['two']);
  });

  test('a routed write connects through pg_dist_poolinfo when the node has an entry', async () => {
    // The node's own name cannot be resolved: only the poolinfo address works.
    const id = await addNode('127.0.0.1', w2.port, 3);
    await coordinator.query("SELECT citus_update_node($1, 'unresolvable.invalid', $2)", [id, w2.port]);
    await coordinator.query("INSERT INTO pg_dist_poolinfo VALUES ($1, 'host=127.0.0.1')", [id]);
    const app = await connect(coordinator);
    assert.equal(await routedWrite(app, 3, 'pooled'), 1);
    assert.deepEqual(await rowsOn(w2), ['pooled']);
  });

  test('a routed write to a group without a primary fails', async () => {
    const app = await connect(coordinator);
    const err = await sqlError(routedWrite(app, 77, 'x'));
    assert.equal(err.message, 'node group 77 does not have a primary node');
  });

  test('citus_update_node to the current address takes no lock: a routed write is not delayed', async () => {
    const mover = await connect(coordinator);
    await mover.query('BEGIN');
    await mover.query("SELECT citus_update_node($1, '127.0.0.1', $2)", [group1, w1.port]);
    const app = await connect(coordinator);
    // would hang until the mover commits if the no-op had locked the row
    const write = track(routedWrite(app, 1, 'during no-op'));
    await waitFor(write.settled, { ...WAIT, message: 'the routed write completes while the no-op update is open' });
    assert.equal(await write.promise, 1);
    await mover.query('COMMIT');
    assert.deepEqual(await rowsOn(w1), ['during no-op']);
  });

  test(
    'an address change makes a routed write to that group wait until COMMIT, ' + 'then it runs on the new primary',
    async () => {
      const mover = await openAddressChange();
      const app = await connect(coordinator);
      const appPid = await pidOf(app);
      const write = track(routedWrite(app, 1, 'after move'));
      await waitFor(() => waitsForLock(appPid), { ...WAIT, message: 'the routed write waits for the address change' });
      assert.equal(write.settled(), false);
      await mover.query('COMMIT');
      assert.equal(await write.promise, 1);
      assert.deepEqual(await rowsOn(w2), ['after move']);
      assert.deepEqual(await rowsOn(w1), []);
    },
  );

  test('reads do not wait for an address change and still reach the old primary', async () => {
    await w1.query("INSERT INTO t VALUES ('old primary')");
    const mover = await openAddressChange();
    const reader = await connect(coordinator);
    const read = track(
      reader.query<{ r: { note: string } }>("SELECT citus_compat.routed_read(1, 'SELECT note FROM t') AS r"),
    );
    await waitFor(read.settled, { ...WAIT, message: 'the routed read completes during the address change' });
    const rows = (await read.promise).rows.map((row) => row.r.note);
    assert.deepEqual(rows, ['old primary']);
    await mover.query('ROLLBACK');
  });

  test('an address change of one group does not delay routed writes to another group', async () => {
    const mover = await openAddressChange();
    const app = await connect(coordinator);
    const write = track(routedWrite(app, 2, 'other group'));
    await waitFor(write.settled, {
      ...WAIT,
      message: "group 2's routed write completes during group 1's address change",
    });
    assert.equal(await write.promise, 1);
    assert.deepEqual(await rowsOn(w3), ['other group']);
    await mover.query('ROLLBACK');
  });

  test("during an open address change, another group's citus_update_node waits, as on Citus", async () => {
    const mover = await openAddressChange();
    const other = await connect(coordinator);
    const otherPid = await pidOf(other);
    const group2 = await coordinator.query<{ nodeid: number }>('SELECT nodeid FROM pg_dist_node WHERE groupid = 2');
    // Citus unsets metadatasynced under an ExclusiveLock on pg_dist_node held to COMMIT.
    const repoint = track(
      other.query("SELECT citus_update_node($1, '127.0.0.2', $2)", [group2.rows[0].nodeid, w3.port]),
    );
    await waitFor(() => waitsForLock(otherPid), { ...WAIT, message: "group 2's update waits for group 1's" });
    assert.equal(repoint.settled(), false);
    await mover.query('COMMIT');
    await repoint.promise;
  });

  test('an add waits for an open address change, and after COMMIT fails with E2 until the sync ran', async () => {
    const mover = await openAddressChange();
    const adder = await connect(coordinator);
    const adderPid = await pidOf(adder);
    const addSecondary = (): Promise<unknown> =>
      adder.query("SELECT citus_add_secondary_node('10.0.0.50', 5432, '127.0.0.1', $1)", [w3.port]);
    const add = track(addSecondary());
    await waitFor(() => waitsForLock(adderPid), { ...WAIT, message: 'the add waits for the open address change' });
    assert.equal(add.settled(), false);
    await mover.query('COMMIT');
    const err = await sqlError(add.promise);
    assert.equal(err.code, '55000');
    assert.match(err.message, E2);
    const unsynced = await coordinator.query<{ n: number }>('SELECT citus_compat.sync_metadata() AS n');
    assert.equal(unsynced.rows[0].n, 0);
    await addSecondary();
    // w2 now has group 1's copy as the coordinator has it
    const copy = await w2.query("SELECT nodeid FROM pg_dist_node WHERE nodename = '10.0.0.50'");
    assert.equal(copy.rowCount, 1);
  });

  test('citus_update_node wakes the sync at COMMIT only: NOTIFY citus_compat_metadata_sync', async () => {
    const listener = await connect(coordinator);
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.channel));
    await listener.query('LISTEN citus_compat_metadata_sync');
    const mover = await openAddressChange();
    await mover.query('ROLLBACK');
    // a notification is delivered before the reply to a later query on the same connection
    await listener.query('SELECT 1');
    assert.deepEqual(heard, []);
    const committed = await openAddressChange();
    await committed.query('COMMIT');
    await waitFor(() => heard.length === 1, { ...WAIT, message: 'the COMMIT notifies the sync' });
    assert.deepEqual(heard, ['citus_compat_metadata_sync']);
  });

  test('citus_pause_node_within_txn makes routed writes to the group wait without moving it', async () => {
    const pauser = await connect(coordinator);
    await pauser.query('BEGIN');
    await pauser.query('SELECT citus_pause_node_within_txn($1)', [group1]);
    const app = await connect(coordinator);
    const appPid = await pidOf(app);
    const write = track(routedWrite(app, 1, 'after pause'));
    await waitFor(() => waitsForLock(appPid), { ...WAIT, message: 'the routed write waits for the pause' });
    await pauser.query('COMMIT');
    assert.equal(await write.promise, 1);
    assert.deepEqual(await rowsOn(w1), ['after pause']);
    const err = await sqlError(coordinator.query('SELECT citus_pause_node_within_txn(987654)'));
    assert.equal(err.message, 'node 987654 not found');
    assert.equal(err.code, 'P0002');
  });

  /** A transaction that has written through group 1 and stays open, holding its share lock. */
  async function openRoutedWrite(): Promise<{ client: pg.Client; pid: number }> {
    const client = await connect(coordinator);
    const pid = await pidOf(client);
    await client.query('BEGIN');
    await routedWrite(client, 1, 'in flight');
    return { client, pid };
  }

  test('without force, citus_update_node waits for the transaction that blocks it', async () => {
    const blocker = await openRoutedWrite();
    const mover = await connect(coordinator);
    const moverPid = await pidOf(mover);
    const update = track(mover.query("SELECT citus_update_node($1, '127.0.0.1', $2)", [group1, w2.port]));
    await waitFor(() => waitsForLock(moverPid), { ...WAIT, message: 'the update waits for the open routed write' });
    assert.equal(update.settled(), false);
    await blocker.client.query('COMMIT');
    await update.promise;
    const r = await coordinator.query('SELECT nodeport FROM pg_dist_node WHERE nodeid = $1', [group1]);
    assert.deepEqual(r.rows, [{ nodeport: w2.port }]);
  });

  test('force => true terminates the transaction that blocks the update after the cooldown', async () => {
    const blocker = await openRoutedWrite();
    const mover = await connect(coordinator);
    await mover.query("SELECT citus_update_node($1, '127.0.0.1', $2, force => true, lock_cooldown => 100)", [
      group1,
      w2.port,
    ]);
    const r = await coordinator.query('SELECT nodeport FROM pg_dist_node WHERE nodeid = $1', [group1]);
    assert.deepEqual(r.rows, [{ nodeport: w2.port }]);
    await waitFor(
      async () =>
        (await coordinator.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [blocker.pid])).rowCount === 0,
      { ...WAIT, message: 'the blocking backend is gone' },
    );
    await assert.rejects(blocker.client.query('SELECT 1'));
    // the helper session that did the terminating ends with the update
    await waitFor(
      async () =>
        (await coordinator.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'citus_compat_lock_helper'"))
          .rowCount === 0,
      { ...WAIT, message: 'the lock helper session is gone' },
    );
  });

  test('SET LOCAL lock_timeout makes a blocked citus_update_node fail with a lock timeout', async () => {
    const blocker = await openRoutedWrite();
    const mover = await connect(coordinator);
    await mover.query('BEGIN');
    await mover.query("SET LOCAL lock_timeout = '200ms'");
    const err = await sqlError(mover.query("SELECT citus_update_node($1, '127.0.0.1', $2)", [group1, w2.port]));
    assert.equal(err.code, '55P03');
    assert.match(err.message, /lock timeout/);
    await mover.query('ROLLBACK');
    await blocker.client.query('COMMIT');
  });
});
