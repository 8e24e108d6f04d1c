// The managed PgBouncer with a real agent (one coordinator member, stand-in Citus): clients reach
// PostgreSQL through it over TLS, a killed PgBouncer is started again, a reload changes its pool
// size by SIGHUP (same pid), and stopping the agent stops it.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import YAML from 'yaml';
import { errorText } from '../../../src/errors.ts';
import {
  CITUS_DATABASE,
  CLUSTER_PASSWORDS,
  freePort,
  isAlive,
  startCluster,
  useHarness,
  waitFor,
  type WaitForOptions,
  waitForLeader,
  type TestCluster,
  type TestMember,
} from '../../harness/index.ts';

useHarness();

const run = promisify(execFile);

let cluster: TestCluster;
let member: TestMember;
let poolerPort: number;
let pgbouncerDir: string;

/** The member's YAML with `citus.pooler` and a `pgbouncer` section (dir inside the member's own). */
async function writePooledConfig(pgbouncer: Record<string, unknown>): Promise<void> {
  const raw = YAML.parse(await readFile(member.configPath, 'utf8'), { version: '1.1' }) as Record<string, unknown>;
  (raw.citus as Record<string, unknown>).pooler = `127.0.0.1:${poolerPort}`;
  raw.pgbouncer = { dir: pgbouncerDir, ...pgbouncer };
  await writeFile(member.configPath, YAML.stringify(raw, { version: '1.1' }), { mode: 0o644 });
}

/** The pid in PgBouncer's pidfile when that process is alive, else null. */
function pgbouncerPid(): number | null {
  try {
    const pid = Number(readFileSync(join(pgbouncerDir, 'pgbouncer.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

/** One statement through the pooler as the superuser, over TLS; TLS is also what `sslmode=require` asks. */
async function viaPooler<R extends pg.QueryResultRow>(sql: string, database = 'postgres'): Promise<R[]> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: poolerPort,
    user: 'postgres',
    password: CLUSTER_PASSWORDS.superuser,
    database,
    ssl: { rejectUnauthorized: false },
    connectionTimeoutMillis: 3000,
    query_timeout: 10_000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/** waitFor with the end of the agent log (where PgBouncer's exits and failures are) in the error. */
async function waitLogged<T>(fn: () => T | Promise<T>, opts: WaitForOptions): Promise<T> {
  try {
    return await waitFor(fn, opts);
  } catch (err) {
    throw new Error(`${errorText(err)}\n--- agent log ---\n${member.log(6000)}`, { cause: err });
  }
}

/** PgBouncer's own setting, from `SHOW CONFIG` on its admin console. */
async function pgbouncerSetting(key: string): Promise<string | undefined> {
  const rows = await viaPooler<{ key: string; value: string }>('SHOW CONFIG', 'pgbouncer');
  return rows.find((row) => row.key === key)?.value;
}

async function runningPid(): Promise<number> {
  const pid = await waitLogged(pgbouncerPid, { timeout: 10_000, message: 'PgBouncer runs' });
  assert.ok(pid !== null);
  return pid;
}

before(
  async () => {
    cluster = await startCluster({ groups: [0], membersPerGroup: 1 });
    member = cluster.members[0]!;
    poolerPort = await freePort();
    pgbouncerDir = join(member.dir, 'pgbouncer');
    await writePooledConfig({ default_pool_size: 20 });
    member.start();
    await waitForLeader(cluster, 0, { timeout: 90_000 });
  },
  { timeout: 120_000 },
);

after(async () => {
  await cluster?.stopAll();
});

test('a client reaches PostgreSQL through the managed PgBouncer (sslmode=require)', { timeout: 60_000 }, async () => {
  const rows = await waitLogged(() => viaPooler<{ port: string }>("select current_setting('port') as port"), {
    timeout: 30_000,
    message: 'a query through the managed PgBouncer answers',
  });
  assert.equal(rows[0]?.port, String(member.pgPort), "it forwards to the member's own PostgreSQL");
  // libpq, as Citus connects: sslmode=require fails against a pooler without TLS.
  const { stdout } = await run(
    'psql',
    [`host=127.0.0.1 port=${poolerPort} user=postgres dbname=postgres sslmode=require`, '-Atc', 'select 42'],
    { env: { ...process.env, PGPASSWORD: CLUSTER_PASSWORDS.superuser }, timeout: 10_000 },
  );
  assert.equal(stdout.trim(), '42');
  const poolinfo = await waitLogged(
    async () => {
      const sql = 'select poolinfo from pg_dist_poolinfo';
      const res = await member.query<{ poolinfo: string }>(sql, [], { database: CITUS_DATABASE });
      return res.rows.length > 0 ? res.rows : undefined;
    },
    { timeout: 30_000, message: 'the coordinator registers its pooler in pg_dist_poolinfo' },
  );
  assert.deepEqual(
    poolinfo?.map((r) => r.poolinfo),
    [`host=127.0.0.1 port=${poolerPort}`],
  );
});

test('a PgBouncer killed with SIGKILL is started again and connections work again', { timeout: 60_000 }, async () => {
  const killed = await runningPid();
  process.kill(killed, 'SIGKILL');
  await waitLogged(() => !isAlive(killed), { timeout: 10_000, interval: 50, message: `PgBouncer ${killed} is gone` });
  const restarted = await waitLogged(() => pgbouncerPid() !== killed && pgbouncerPid(), {
    timeout: 30_000,
    message: 'the agent starts PgBouncer again',
  });
  assert.notEqual(restarted, killed);
  await waitLogged(async () => (await viaPooler<{ one: number }>('select 1 as one'))[0]?.one === 1, {
    timeout: 30_000,
    message: 'queries through the restarted PgBouncer answer',
  });
  assert.match(member.log(200_000), /pgbouncer exited unexpectedly; restarting/);
});

test('a reload that changes default_pool_size reaches PgBouncer without a restart', { timeout: 60_000 }, async () => {
  const pid = await runningPid();
  assert.equal(await pgbouncerSetting('default_pool_size'), '20');
  await writePooledConfig({ default_pool_size: 33 });
  const res = await fetch(`${member.apiUrl}/reload`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 202, await res.text());
  await waitLogged(async () => (await pgbouncerSetting('default_pool_size')) === '33', {
    timeout: 20_000,
    message: 'SHOW CONFIG shows default_pool_size 33',
  });
  assert.equal(pgbouncerPid(), pid, 'the same PgBouncer process');
});

test('stopping the agent stops its PgBouncer', { timeout: 90_000 }, async () => {
  const pid = await runningPid();
  await member.stop();
  assert.equal(isAlive(pid), false, `PgBouncer ${pid} is gone once the agent has exited`);
  assert.match(member.log(200_000), /pgbouncer stopped/);
});
