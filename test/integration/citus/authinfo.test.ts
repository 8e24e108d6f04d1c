// The superuser's pg_dist_authinfo row kept by keepAuthinfo on a real PostgreSQL with the Citus
// stand-in: the row a password change or removal leaves, and the connection string Citus builds.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, beforeEach, test } from 'node:test';
import pg from 'pg';
import { authinfoFor, keepAuthinfo, UPSERT_AUTHINFO_SQL } from '../../../src/citus/authinfo.ts';
import { COMPAT_SQL_PATH } from '../../../src/citus/extension.ts';
import { createPostgres, onCleanup, useHarness, type PgServer } from '../../harness/index.ts';

useHarness();

let server: PgServer;
let client: pg.Client;

/** The superuser's rows as `nodeid rolename authinfo`. */
async function rows(): Promise<string[]> {
  const r = await client.query<{ nodeid: number; rolename: string; authinfo: string }>(
    'SELECT nodeid, rolename, authinfo FROM pg_catalog.pg_dist_authinfo ORDER BY nodeid',
  );
  return r.rows.map((x) => `${x.nodeid} ${x.rolename} ${x.authinfo}`);
}

/** What the stand-in, as Citus, puts into a connection to node 7. */
async function conninfo(): Promise<string> {
  const r = await client.query<{ c: string }>("SELECT citus_compat.node_conninfo(7, 'w1', 5432) AS c");
  return r.rows[0].c;
}

before(async () => {
  server = await createPostgres({ parameters: { shared_buffers: '16MB', max_connections: '20' } });
  // The stand-in's script as such: ensureCitus would CREATE EXTENSION citus where Citus exists.
  await server.query(await readFile(COMPAT_SQL_PATH, 'utf8'));
  client = new pg.Client({ connectionString: server.connectionString('postgres') });
  await client.connect();
  // Closed before the harness stops the server (its 'resources' phase runs first).
  onCleanup('authinfo test connection', () => client.end());
});

beforeEach(async () => {
  await client.query('DELETE FROM pg_catalog.pg_dist_authinfo');
  // As bootstrap left it.
  await client.query(UPSERT_AUTHINFO_SQL, [authinfoFor('first')]);
});

test('a changed password replaces the bootstrap row, and connections between nodes carry the new one', async () => {
  assert.equal((await keepAuthinfo(client, "n3w pass'word")).kind, 'upsert');
  assert.deepEqual(await rows(), ["0 postgres password='n3w pass\\'word'"]);
  assert.match(await conninfo(), / password='n3w pass\\'word'$/);
  assert.equal((await keepAuthinfo(client, "n3w pass'word")).kind, 'none', 'a second run finds the row right');
});

test('a removed password deletes the row it wrote; connections then carry none', async () => {
  assert.equal((await keepAuthinfo(client, undefined)).kind, 'delete');
  assert.deepEqual(await rows(), []);
  assert.doesNotMatch(await conninfo(), /password=/);
  assert.equal((await keepAuthinfo(client, undefined)).kind, 'none');
});

test('a removed password leaves a row an operator wrote with other settings, and rows for other nodes', async () => {
  await client.query("UPDATE pg_catalog.pg_dist_authinfo SET authinfo = 'password=first sslmode=require'");
  await client.query("INSERT INTO pg_catalog.pg_dist_authinfo VALUES (7, current_user, 'password=node7')");
  assert.equal((await keepAuthinfo(client, undefined)).kind, 'none');
  assert.deepEqual(await rows(), ['0 postgres password=first sslmode=require', '7 postgres password=node7']);
});

test('a row missing on a promoted primary is written again', async () => {
  await client.query('DELETE FROM pg_catalog.pg_dist_authinfo');
  assert.equal((await keepAuthinfo(client, 'first')).kind, 'upsert');
  assert.deepEqual(await rows(), ['0 postgres password=first']);
});
