// Issue 13 on real agents, etcd and PostgreSQL (the Citus stand-in, or Citus where installed): a
// worker group that joins a formation holding a distributed table takes its share of the shards
// (citus.rebalance_on_join), and `remove-group` drains a group while writes run, removes its
// nodes and then its keys, also when it is killed half-way and run again. Every refusal is
// run through the command too. One formation serves every step, in order.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import pg from 'pg';
import { Dcs } from '../../../src/dcs/dcs.ts';
import { groupOf } from '../../../src/dcs/view.ts';
import { onCleanup, useHarness, waitFor, type TestMember } from '../../harness/index.ts';
import { ctlConfigFor, REPO, shardherd, shown } from '../cli/helpers.ts';
import {
  citusClient,
  distNodes,
  finishCitusCluster,
  memberAddress,
  pollRows,
  primaryRow,
  startCitusCluster,
  TIMING,
  watchPrimaryKey,
  type RunningCitusCluster,
} from './clusterSteps.ts';
import { detectCitus, type CitusKind } from '../../harness/citusApp.ts';

useHarness();

const SHARDS = 16;
const FIRST_ROWS = 800;

/** The application's table, hash-distributed on id, written and read through the coordinator. */
class Items {
  private constructor(
    private readonly kind: CitusKind,
    private readonly client: pg.Client,
  ) {}

  static async create(coordinator: TestMember): Promise<Items> {
    const client = new pg.Client({ ...memberAddress(coordinator), query_timeout: 60_000 });
    client.on('error', () => {});
    await client.connect();
    onCleanup('close the items connection', () => client.end().catch(() => {}));
    const items = new Items(await detectCitus(memberAddress(coordinator)), client);
    await client.query('CREATE TABLE items (id bigint PRIMARY KEY, v text NOT NULL)');
    await client.query(`SELECT create_distributed_table('items', 'id', shard_count => ${SHARDS})`);
    return items;
  }

  insertSql(id: number): string {
    return this.kind === 'citus'
      ? `INSERT INTO items (id, v) VALUES (${id}, 'v')`
      : `SELECT citus_compat.dist_exec('items', ${id}, 'INSERT INTO %s (id, v) VALUES (${id}, ''v'')')`;
  }

  async count(): Promise<number> {
    const sql =
      this.kind === 'citus'
        ? 'SELECT count(*)::int AS n FROM items'
        : "SELECT count(*)::int AS n FROM citus_compat.dist_query('items', 'SELECT id FROM %s')";
    return (await this.client.query<{ n: number }>(sql)).rows[0]!.n;
  }

  async placements(): Promise<Map<number, number>> {
    const { rows } = await this.client.query<{ groupid: number; n: number }>(
      'SELECT groupid, count(*)::int AS n FROM pg_catalog.pg_dist_placement GROUP BY groupid',
    );
    return new Map(rows.map((r) => [r.groupid, r.n]));
  }

  async rebalanceJobs(): Promise<number> {
    const { rows } = await this.client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_catalog.pg_dist_background_job WHERE job_type = 'rebalance'",
    );
    return rows[0]!.n;
  }
}

/** One connection inserting ids one after another through the coordinator until stopped. */
class Writer {
  acked = 0;
  readonly errors: string[] = [];
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(coordinator: TestMember, items: Items, firstId: number) {
    this.done = (async () => {
      const client = new pg.Client({ ...memberAddress(coordinator), query_timeout: 60_000 });
      client.on('error', () => {});
      await client.connect();
      try {
        for (let id = firstId; !this.stopped; id++) {
          try {
            await client.query(items.insertSql(id));
            this.acked++;
          } catch (err) {
            this.errors.push(`id ${id}: ${(err as Error).message}`);
          }
        }
      } finally {
        await client.end().catch(() => {});
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

function describe(placements: Map<number, number>): string {
  return [...placements]
    .sort(([a], [b]) => a - b)
    .map(([g, n]) => `group ${g}: ${n}`)
    .join(', ');
}

const balanced = (p: Map<number, number>, groups: number[]): boolean => {
  const counts = groups.map((g) => p.get(g) ?? 0);
  return Math.min(...counts) > 0 && Math.max(...counts) - Math.min(...counts) <= 1;
};

/** `remove-group` as a child process whose output the test reads while it runs. */
function startRemoveGroup(ctl: string, group: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'remove-group', '-c', ctl, '--group', String(group), '--force'],
    { cwd: REPO, env: { ...process.env, SHARDHERD_CONFIG: '', PATRONICTL_CONFIG_FILE: '' } },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  onCleanup(`stop remove-group ${group}`, () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => out, exited };
}

test(
  'scale out with rebalance_on_join, then remove-group under writes (killed and run again), and its refusals',
  {
    timeout: 420_000,
  },
  async (t) => {
    const running: RunningCitusCluster = await startCitusCluster({ groups: [0, 1], membersPerGroup: 1 });
    const { cluster } = running;
    const coordinator = running.leaders.get(0)!;
    const ctl = await ctlConfigFor(cluster);
    const client = await citusClient(coordinator);

    // Refusals that need no data: the coordinator, a group nobody knows, the last worker group.
    const refused = async (group: number, why: RegExp) => {
      const r = await shardherd(['remove-group', '-c', ctl, '--group', String(group), '--force']);
      assert.equal(r.code, 1, shown(r));
      assert.match(r.stderr, why, shown(r));
      t.diagnostic(`remove-group --group ${group}: ${r.stderr.trim()}`);
    };
    await refused(0, /not removing group 0: group 0 is the coordinator group: it cannot be removed/);
    await refused(9, /not removing group 9: group 9 is unknown: it has no keys in etcd and no row in pg_dist_node/);
    await pollRows(client, (rows) => primaryRow(rows, 1) !== undefined, {
      timeout: 60_000,
      message: 'group 1 registered',
    });
    await refused(1, /not removing group 1: group 1 is the last worker group: its shards would have nowhere to go/);

    // A second worker group, then the table: its shards spread over groups 1 and 2.
    for (const m of await cluster.addGroup(2, 1)) m.start();
    await pollRows(client, (rows) => primaryRow(rows, 2) !== undefined, {
      timeout: 90_000,
      message: 'group 2 registered',
    });
    const items = await Items.create(coordinator);
    const seed = new Writer(coordinator, items, 1);
    await waitFor(() => seed.acked >= FIRST_ROWS, { timeout: 60_000, message: `${FIRST_ROWS} rows written` });
    await seed.stop();
    assert.deepEqual(seed.errors, []);
    let nextId = seed.acked + 1;
    let acked = seed.acked;
    t.diagnostic(`placements before the join: ${describe(await items.placements())}`);

    // A drain that cannot run: no other group takes shards.
    const g1 = primaryRow(await distNodes(client), 1)!;
    await client.query("SELECT citus_set_node_property($1, $2, 'shouldhaveshards', false)", [g1.nodename, g1.nodeport]);
    await refused(2, /not removing group 2: its drain cannot run: no other worker group takes shards/);
    await client.query("SELECT citus_set_node_property($1, $2, 'shouldhaveshards', true)", [g1.nodename, g1.nodeport]);

    const edited = await shardherd([
      'edit-config',
      '-c',
      ctl,
      '--group',
      '0',
      '-s',
      'citus.rebalance_on_join=true',
      '--force',
    ]);
    assert.equal(edited.code, 0, shown(edited));

    // Group 3 joins while the application writes.
    let writer = new Writer(coordinator, items, nextId);
    const watch = await watchPrimaryKey(cluster, 3);
    for (const m of await cluster.addGroup(3, 1)) m.start();
    const registered = await pollRows(client, (rows) => primaryRow(rows, 3) !== undefined, {
      timeout: 90_000,
      message: 'group 3 has a primary row',
    });
    const key = await waitFor(() => watch.seen, { timeout: 5_000, message: 'group 3 key seen running as primary' });
    watch.close();
    const registerMs = Math.round(registered.at - key.at);
    const spread = await waitFor(
      async () => {
        const p = await items.placements();
        return balanced(p, [1, 2, 3]) ? p : undefined;
      },
      { timeout: 120_000, interval: 100, message: 'placements balanced over groups 1, 2 and 3' },
    );
    const balancedMs = Math.round(performance.now() - registered.at);
    t.diagnostic(
      `join: group 3 registered ${registerMs} ms after its leader ran as primary; placements balanced ` +
        `${balancedMs} ms after that (${describe(spread!)}), ${writer.acked} writes meanwhile`,
    );
    assert.ok(registerMs <= 1000, `registered ${registerMs} ms after its leader ran as primary, over 1000 ms`);
    await writer.stop();
    assert.deepEqual(writer.errors, [], 'no coordinator-routed write failed during the join');
    acked += writer.acked;
    nextId += writer.acked + writer.errors.length;
    assert.equal(await items.count(), acked, 'every acknowledged row is there after the join');
    assert.equal(await items.rebalanceJobs(), 1, 'one rebalance for the one join');
    const mark3 = groupOf(await readAll(running), 3).citus?.value.joined;
    assert.ok(mark3 && mark3.job_id !== null, `group 3's join is marked with its job: ${JSON.stringify(mark3)}`);

    // remove-group 3 while the application writes; killed once the drain is under way.
    writer = new Writer(coordinator, items, nextId);
    const first = startRemoveGroup(ctl, 3);
    await waitFor(() => /draining group 3/.test(first.output()), { timeout: 60_000, message: 'remove-group drains' });
    first.child.kill('SIGKILL');
    await first.exited;
    t.diagnostic(`first remove-group, killed:\n${first.output().trim()}`);
    const second = startRemoveGroup(ctl, 3);
    await waitFor(() => /stop the agents of group 3 now/.test(second.output()), {
      timeout: 180_000,
      message: 'remove-group asks for the agents to stop',
    });
    assert.match(second.output(), /going on with the removal of group 3/);
    await writer.stop();
    assert.deepEqual(writer.errors, [], 'no coordinator-routed write failed during the drain');
    acked += writer.acked;
    for (const m of cluster.group(3)) await m.stop();
    assert.equal(await second.exited, 0, second.output());
    t.diagnostic(`second remove-group:\n${second.output().trim()}`);
    assert.match(second.output(), /Removed group 3 of cluster/);

    const after = await items.placements();
    assert.equal(after.get(3) ?? 0, 0, `no placement of group 3 is left: ${describe(after)}`);
    const rows = await distNodes(client);
    assert.deepEqual(
      rows.filter((r) => r.groupid === 3),
      [],
      'no pg_dist_node row of group 3',
    );
    const { rows: orphans } = await client.query(
      'SELECT nodeid FROM pg_catalog.pg_dist_poolinfo WHERE nodeid NOT IN (SELECT nodeid FROM pg_catalog.pg_dist_node)',
    );
    assert.deepEqual(orphans, [], 'no poolinfo row of a removed node');
    const view = await readAll(running);
    assert.equal(
      view.groups.some((g) => g.group === 3),
      false,
      'no etcd key of group 3',
    );
    assert.equal(await items.count(), acked, 'every acknowledged row is still there');
    t.diagnostic(`after the removal: ${describe(after)}; ${acked} rows, ${writer.acked} written during the drain`);

    await finishCitusCluster(running);
  },
);

async function readAll(running: RunningCitusCluster) {
  const dcs = new Dcs({
    hosts: [running.cluster.etcd.endpoint],
    namespace: 'service',
    scope: running.cluster.scope,
    group: 0,
    retryTimeout: TIMING.retryTimeout,
    ttl: TIMING.ttl,
  });
  try {
    return await dcs.loadCluster({ allGroups: true });
  } finally {
    dcs.close();
  }
}
