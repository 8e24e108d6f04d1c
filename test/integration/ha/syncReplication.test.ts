// Synchronous and quorum replication on a real group of three: no acknowledged commit is lost
// when the primary is killed at random moments, only members the sync key names are promoted,
// a switchover leaves the group whole again without a base backup, and strict mode makes
// writes wait for a standby instead of running without one.

import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Etcd3 } from 'etcd3';
import pg from 'pg';
import { keyLayout, KEY } from '../../../src/dcs/keys.ts';
import type { SyncState } from '../../../src/dcs/types.ts';
import {
  CLUSTER_PASSWORDS,
  readLeaderKey,
  useHarness,
  waitFor,
  waitForLeader,
  waitForReplicas,
  type TestCluster,
  type TestMember,
} from '../../harness/index.ts';
import { ctlConfigFor, PATRONICTL, run, shown } from '../cli/helpers.ts';
import { createMarkerTable, finishGroup, logMatches, startGroup } from './helpers.ts';

useHarness();

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 3 } as const;
const KILLS = Number(process.env.SHARDHERD_SYNC_KILLS ?? 20);

async function readSync(cluster: TestCluster): Promise<SyncState | null> {
  const key = keyLayout({ namespace: 'service', scope: cluster.scope, group: null }).key(KEY.sync);
  const client = new Etcd3({ hosts: cluster.etcd.endpoint });
  try {
    const text = await client.get(key).string();
    return text === null ? null : (JSON.parse(text) as SyncState);
  } finally {
    client.close();
  }
}

/** A connection of its own to the member's PostgreSQL, as the superuser. */
async function connect(member: TestMember): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: member.pgPort,
    user: 'postgres',
    password: CLUSTER_PASSWORDS.superuser,
    database: 'postgres',
    connectionTimeoutMillis: 3000,
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

const votersOf = (sync: SyncState | null): string[] =>
  (sync?.sync_standby ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Waits until the key names `leader` with `count` voters, each a standby PostgreSQL itself reports as synchronous. */
async function waitForSyncStandbys(cluster: TestCluster, leader: TestMember, count: number): Promise<SyncState> {
  return waitFor<SyncState | undefined>(
    async () => {
      const sync = await readSync(cluster);
      if (sync?.leader !== leader.name || votersOf(sync).length < count) return undefined;
      const { rows } = await leader.query<{ name: string }>(
        "select application_name as name from pg_stat_replication where sync_state in ('sync', 'quorum')",
      );
      const names = rows.map((r) => r.name);
      return votersOf(sync).every((v) => names.includes(v)) ? sync : undefined;
    },
    { timeout: 60_000, interval: 50, message: `${leader.name} has ${count} synchronous standbys in the sync key` },
  ) as Promise<SyncState>;
}

/** Inserts rows one by one on whichever member it is pointed at; remembers each acknowledged id. */
class Writer {
  readonly acked: number[] = [];
  private next = 1;
  private client: pg.Client | null = null;
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  start(member: TestMember): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        try {
          this.client ??= await connect(member);
          const id = this.next++;
          await this.client.query('insert into marker (id, note) values ($1, $2)', [id, 'acked']);
          this.acked.push(id);
        } catch {
          // The primary died under the insert: not acknowledged.
          await this.client?.end().catch(() => undefined);
          this.client = null;
          return;
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }
}

async function killRounds(t: TestContext, mode: 'on' | 'quorum', k: number): Promise<void> {
  const group = await startGroup({
    ...TIMING,
    dcsExtra: {
      synchronous_mode: mode === 'on' ? true : 'quorum',
      synchronous_node_count: k,
      primary_start_timeout: 0,
    },
    // Kills at random moments leave some former primaries with WAL pg_rewind cannot work from;
    // they are cloned again, as a production group set up to heal itself would be.
    postgresqlExtra: { remove_data_directory_on_rewind_failure: true },
  });
  const { cluster } = group;
  let leader = group.leader;
  await createMarkerTable(leader);
  const writer = new Writer();
  const promotions: string[] = [];
  for (let round = 1; round <= KILLS; round++) {
    // Each kill hits a whole group: both replicas stream and the key names its standbys.
    await waitForReplicas(cluster, null, { timeout: 60_000, count: 2 });
    const sync = await waitForSyncStandbys(cluster, leader, mode === 'on' ? k : 2);
    const eligible = votersOf(sync);
    writer.start(leader);
    // A random moment while commits flow.
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.floor(Math.random() * 400)));
    await leader.killPostgres('SIGKILL');
    await writer.stop();
    // Either a voter takes over, or (when the old primary's agent heard from no replica that
    // could, e.g. on a loaded machine) the old primary restarts in place and keeps its key.
    const next = await waitFor<TestMember | undefined>(
      async () => {
        const name = await readLeaderKey(cluster.etcd, cluster.scope, null);
        if (name === null) return undefined;
        const member = cluster.member(name);
        const r = await member.query<{ r: boolean }>('select pg_is_in_recovery() as r');
        return r.rows[0]?.r === false ? member : undefined;
      },
      { timeout: 60_000, interval: 50, message: `round ${round}: a primary runs under the leader key` },
    ).then((m) => m!);
    if (next.name !== leader.name) {
      assert.ok(eligible.includes(next.name), `round ${round}: ${next.name} is one of the voters ${eligible}`);
    }
    promotions.push(next.name === leader.name ? `${next.name} (restarted)` : next.name);
    const { rows } = await next.query<{ id: number }>('select id from marker');
    const have = new Set(rows.map((r) => r.id));
    const missing = writer.acked.filter((id) => !have.has(id));
    assert.deepEqual(missing, [], `round ${round}: every acknowledged row is on ${next.name}`);
    leader = next;
  }
  assert.ok(writer.acked.length > KILLS, `${writer.acked.length} rows acknowledged over ${KILLS} kills`);
  t.diagnostic(
    `${writer.acked.length} rows acknowledged over ${KILLS} kills; leaders in turn: ${promotions.join(', ')}`,
  );
  await finishGroup(group);
}

const MODES: ['on' | 'quorum', number][] = [
  ['on', 1],
  ['on', 2],
  ['quorum', 1],
  ['quorum', 2],
];
for (const [mode, k] of MODES) {
  test(
    `${mode}, synchronous_node_count ${k}: ${KILLS} kills of the primary lose no acknowledged row`,
    { timeout: 600_000 },
    (t) => killRounds(t, mode, k),
  );
}

test(
  'a switchover in synchronous mode: the old primary streams again without a base backup and is synchronous again',
  { timeout: 180_000 },
  async (t) => {
    // Two synchronous standbys, so that "whole again" means the old primary is one of them.
    const group = await startGroup({ ...TIMING, dcsExtra: { synchronous_mode: true, synchronous_node_count: 2 } });
    const { cluster, leader } = group;
    const sync = await waitForSyncStandbys(cluster, leader, 2);
    const candidate = cluster.member(votersOf(sync)[0]!);
    const since = Date.now();
    const res = await fetch(`${leader.apiUrl}/switchover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leader: leader.name, candidate: candidate.name }),
    });
    assert.equal(res.status, 200, await res.text());
    const answered = Date.now();
    const next = await waitForLeader(cluster, null, { timeout: 30_000 });
    assert.equal(next.name, candidate.name);
    const whole = await waitForSyncStandbys(cluster, next, 2);
    t.diagnostic(
      `the group was whole again (both standbys synchronous, ${leader.name} among them) ` +
        `${Date.now() - answered} ms after the switchover was answered, ${Date.now() - since} ms after it was asked`,
    );
    assert.ok(votersOf(whole).includes(leader.name), `${leader.name} is a synchronous standby of ${next.name}`);
    // Debian's patronictl reads the sync key as Patroni writes it: both standbys are Sync Standby.
    const listed = await run(PATRONICTL, ['-c', await ctlConfigFor(cluster), 'list']);
    assert.equal(listed.code, 0, shown(listed));
    for (const name of votersOf(whole)) {
      assert.match(listed.stdout, new RegExp(`\\| ${name} .*\\| Sync Standby `), shown(listed));
    }
    assert.match(listed.stdout, new RegExp(`\\| ${next.name} .*\\| Leader `), shown(listed));
    assert.deepEqual(
      logMatches(leader, /^(clone|reinitialize) started/, since).map((l) => l.msg),
      [],
      `${leader.name} rejoined from its own data`,
    );
    await finishGroup(group);
  },
);

test(
  'a synchronous standby that stops: writes go on without it, or wait for one in strict mode',
  { timeout: 240_000 },
  async () => {
    for (const strict of [false, true]) {
      const group = await startGroup({
        ...TIMING,
        dcsExtra: { synchronous_mode: true, synchronous_mode_strict: strict },
      });
      const { cluster, leader, replicas } = group;
      await createMarkerTable(leader);
      await waitForSyncStandbys(cluster, leader, 1);
      for (const r of replicas) await r.stop();
      const client = await connect(leader);
      try {
        const insert = client.query("insert into marker (id, note) values (1, 'alone')");
        if (!strict) {
          await insert;
          await waitFor(async () => (await readSync(cluster))?.sync_standby === null, {
            timeout: 30_000,
            message: 'the sync key names no standby',
          });
        } else {
          const settled = await Promise.race([
            insert.then(() => 'committed'),
            new Promise((resolve) => setTimeout(() => resolve('waiting'), 3 * TIMING.loopWait * 1000)),
          ]);
          assert.equal(settled, 'waiting', 'strict mode: the commit waits for a standby');
          replicas[0]!.start();
          await insert;
        }
      } finally {
        await client.end();
      }
      await finishGroup(group);
    }
  },
);
