// A superuser password change applied by reload, as an operator does it: the role's password on
// every group primary, then every member's file. Coordinator-routed writes authenticate with
// pg_dist_authinfo, so they fail in between and work again once the agents updated the rows.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { CITUS_DATABASE, useHarness, waitFor, type TestMember } from '../../harness/index.ts';
import {
  CitusApp,
  finishCitusCluster,
  groupLeader,
  memberAddress,
  startCitusCluster,
  type RunningCitusCluster,
} from './clusterSteps.ts';

useHarness();

let running: RunningCitusCluster;
let app: CitusApp;
/** The application's connection to the coordinator, opened with the first password and kept. */
let appClient: pg.Client;

/** A statement in the Citus database over the member's unix socket (trusted), whatever the password. */
async function overSocket(member: TestMember, sql: string): Promise<void> {
  const client = new pg.Client({ host: member.dir, port: member.pgPort, user: 'postgres', database: CITUS_DATABASE });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function routedWrite(id: number): Promise<string | null> {
  try {
    await app.write(appClient, 1, id);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

before(
  async () => {
    running = await startCitusCluster({ groups: [0, 1], membersPerGroup: 1 });
    const coordinator = groupLeader(running, 0);
    await waitFor(
      async () =>
        (
          await coordinator.query('SELECT 1 FROM pg_catalog.pg_dist_node WHERE groupid = 1', [], {
            database: CITUS_DATABASE,
          })
        ).rowCount === 1,
      {
        timeout: 60_000,
        message: 'group 1 is registered',
      },
    );
    app = await CitusApp.detect(memberAddress(coordinator));
    await app.setup(1, [memberAddress(groupLeader(running, 1))]);
    appClient = new pg.Client(memberAddress(coordinator));
    appClient.on('error', () => undefined);
    await appClient.connect();
  },
  { timeout: 180_000 },
);

after(async () => {
  await appClient?.end().catch(() => undefined);
  if (running !== undefined) await finishCitusCluster(running);
});

test(
  'a superuser password changed by ALTER ROLE and reload: routed writes fail in between and work again afterwards',
  { timeout: 120_000 },
  async () => {
    assert.equal(await routedWrite(await app.nextId(1)), null, 'routed writes work with the first password');
    const members = running.cluster.members;
    for (const m of members) await overSocket(m, "ALTER ROLE postgres PASSWORD 'super-2'");
    // pg_dist_authinfo still holds the old password: the coordinator cannot log in to the worker.
    assert.match(
      (await routedWrite(await app.nextId(1))) ?? 'no error',
      /could not establish connection|password authentication failed/,
    );
    for (const m of members) {
      const config = parse(await readFile(m.configPath, 'utf8')) as {
        postgresql: { authentication: { superuser: { password?: string } } };
      };
      config.postgresql.authentication.superuser.password = 'super-2';
      await writeFile(m.configPath, stringify(config, { version: '1.1' }));
      const res = await fetch(`${m.apiUrl}/reload`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
      assert.ok(res.status === 200 || res.status === 202, `${m.name} reload: ${res.status}`);
    }
    let last: string | null = 'not tried';
    await waitFor(async () => (last = await routedWrite(await app.nextId(1))) === null, {
      timeout: 30_000,
      interval: 200,
      message: 'routed writes work again with the new password',
    }).catch((err: Error) => assert.fail(`${err.message}: ${last}`));
  },
);
