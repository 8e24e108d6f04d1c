// pg_dist_authinfo kept by running agents of one Citus worker group: a reloaded superuser password
// reaches the primary's row, and a replica promoted over a stale row puts its password there.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import {
  CITUS_DATABASE,
  startCluster,
  useHarness,
  waitFor,
  waitForLeader,
  waitForReplicas,
  type TestCluster,
  type TestMember,
} from '../../harness/index.ts';

useHarness();

const WAIT = { timeout: 60_000, interval: 100 };
const LONG = { timeout: 180_000 };
let cluster: TestCluster;
// Found before the password changes: the harness's own checks connect with the first password.
let leader: TestMember;
let replica: TestMember;

/**
 * Runs `sql` in the Citus database over the member's unix socket (trusted): the password the
 * harness connects with over TCP changes in this test.
 */
async function overSocket<R extends pg.QueryResultRow>(member: TestMember, sql: string): Promise<R[]> {
  const client = new pg.Client({ host: member.dir, port: member.pgPort, user: 'postgres', database: CITUS_DATABASE });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** The superuser's row for every node. */
async function authinfoRow(member: TestMember): Promise<string | null> {
  const sql = 'SELECT authinfo FROM pg_catalog.pg_dist_authinfo WHERE nodeid = 0 AND rolename = current_user';
  return (await overSocket<{ authinfo: string }>(member, sql))[0]?.authinfo ?? null;
}

const rowIs = (member: TestMember, want: string) => async () => (await authinfoRow(member)) === want;

type MemberYaml = { postgresql: { authentication: { superuser: { password?: string } } } };

async function setSuperuserPassword(member: TestMember, password: string): Promise<void> {
  const config = parse(await readFile(member.configPath, 'utf8')) as MemberYaml;
  config.postgresql.authentication.superuser.password = password;
  await writeFile(member.configPath, stringify(config, { version: '1.1' }));
  const res = await fetch(`${member.apiUrl}/reload`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
  assert.equal(res.status, 202, await res.text());
}

before(
  async () => {
    cluster = await startCluster({ groups: [1], membersPerGroup: 2, ttl: 10, loopWait: 1, retryTimeout: 4 });
    cluster.startAll();
    leader = await waitForLeader(cluster, 1, { timeout: 120_000 });
    [replica] = await waitForReplicas(cluster, 1, { timeout: 120_000 });
  },
  { timeout: 240_000 },
);

after(async () => {
  await cluster?.stopAll();
});

test("a reloaded superuser password reaches the primary's pg_dist_authinfo and streams on", LONG, async () => {
  assert.equal(await authinfoRow(leader), 'password=super');
  // The operator's order: the role's password first, then every member's file.
  await overSocket(leader, "ALTER ROLE postgres PASSWORD 'super2'");
  for (const member of [leader, replica]) await setSuperuserPassword(member, 'super2');
  await waitFor(rowIs(leader, 'password=super2'), { ...WAIT, message: "the primary's row has the new password" });
  await waitFor(rowIs(replica, 'password=super2'), { ...WAIT, message: 'the row streamed to the replica' });
});

test('a replica promoted over a stale row writes its configured password once it leads', LONG, async () => {
  // A row the leader leaves (it checks once per lead and on a password change), streamed on.
  await overSocket(leader, "UPDATE pg_catalog.pg_dist_authinfo SET authinfo = 'password=stale' WHERE nodeid = 0");
  await waitFor(rowIs(replica, 'password=stale'), { ...WAIT, message: 'the stale row on the replica' });
  const res = await fetch(`${leader.apiUrl}/switchover`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ leader: leader.name, candidate: replica.name }),
    signal: AbortSignal.timeout(120_000),
  });
  assert.equal(res.status, 200, await res.text());
  await waitFor(rowIs(replica, 'password=super2'), { ...WAIT, message: 'the promoted replica wrote its password' });
});
