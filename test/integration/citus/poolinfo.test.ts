// pg_dist_poolinfo kept true with a real PgBouncer beside every member: rows name each node's
// pooler, coordinator-routed writes pass through the primary's PgBouncer, and a switchover or a
// node death moves pg_dist_node and pg_dist_poolinfo together, never seen apart.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import YAML from 'yaml';
import { useHarness, waitFor, waitForLeader, waitForReplicas, type TestMember } from '../../harness/index.ts';
import {
  citusClient,
  connectWriter,
  finishCitusCluster,
  groupLeader,
  otherMember,
  setupApp,
  startCitusCluster,
  waitForGroups,
  type CitusApp,
  type RunningCitusCluster,
} from './clusterSteps.ts';

useHarness();

const GROUPS = [0, 1, 2];
let running: RunningCitusCluster;
let app: CitusApp;
let coordinatorDb: pg.Client;

const leaderOf = (group: number): TestMember => groupLeader(running, group);

/** A pg_dist_node row with its poolinfo, read in one statement (one snapshot). */
interface NodeWithPool {
  groupid: number;
  noderole: string;
  nodeport: number;
  poolinfo: string | null;
}

async function nodesWithPool(client: pg.Client): Promise<NodeWithPool[]> {
  const r = await client.query<NodeWithPool>(
    `SELECT n.groupid, n.noderole::text AS noderole, n.nodeport, p.poolinfo
       FROM pg_catalog.pg_dist_node n LEFT JOIN pg_catalog.pg_dist_poolinfo p USING (nodeid)
      ORDER BY n.groupid, n.noderole, n.nodeport`,
  );
  return r.rows;
}

const poolOf = (member: TestMember): string => {
  assert.ok(member.pooler, `${member.name} has a PgBouncer`);
  return `host=127.0.0.1 port=${member.pooler.port}`;
};

/** Which member a row stands for, by its PostgreSQL port. */
const memberAt = (port: number): TestMember | undefined => running.cluster.members.find((m) => m.pgPort === port);

/** Rows whose poolinfo is not the pooler of the member at their address. */
function mismatches(rows: readonly NodeWithPool[]): string[] {
  return rows
    .filter((r) => {
      const m = memberAt(r.nodeport);
      return m === undefined || r.poolinfo !== poolOf(m);
    })
    .map((r) => `${r.groupid} ${r.noderole} :${r.nodeport} -> ${r.poolinfo ?? 'no poolinfo'}`);
}

async function waitForPoolinfo(want: (rows: NodeWithPool[]) => boolean, message: string): Promise<NodeWithPool[]> {
  let last: NodeWithPool[] = [];
  try {
    const rows = await waitFor(
      async () => {
        last = await nodesWithPool(coordinatorDb);
        return want(last) ? last : undefined;
      },
      { timeout: 30_000, interval: 50, message },
    );
    assert.ok(rows);
    return rows;
  } catch (err) {
    throw new Error(`${(err as Error).message}; last read: ${JSON.stringify(last)}`, { cause: err });
  }
}

/** Transactions PgBouncer pooled into the Citus database. */
async function pooledTransactions(member: TestMember): Promise<number> {
  assert.ok(member.pooler);
  const stats = await member.pooler.stats();
  return stats.find((s) => s.database === 'citus')?.transactions ?? 0;
}

/**
 * Reads group 1's primary row and its poolinfo every 10 ms in one statement and notes every
 * sample where the two name different members.
 */
function watchGroupPrimary(client: pg.Client): { stop(): Promise<{ samples: number; disagreements: string[] }> } {
  let stopped = false;
  let samples = 0;
  const disagreements: string[] = [];
  const done = (async () => {
    while (!stopped) {
      try {
        const rows = (await nodesWithPool(client)).filter((r) => r.groupid === 1 && r.noderole === 'primary');
        samples++;
        disagreements.push(...mismatches(rows));
      } catch {
        // The coordinator is fine throughout; a failed read is not a disagreement.
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return { samples, disagreements };
    },
  };
}

/** Every member of the groups is registered, each row with its member's pooler. */
const allRegistered = (rows: NodeWithPool[]): boolean =>
  rows.length === running.cluster.members.length && mismatches(rows).length === 0;

before(
  async () => {
    running = await startCitusCluster({ groups: GROUPS, poolers: true });
    coordinatorDb = await citusClient(leaderOf(0));
    await waitForPoolinfo(allRegistered, 'every node is registered with its pooler');
    app = await setupApp(running, 1);
  },
  { timeout: 180_000 },
);

after(async () => {
  if (running !== undefined) await finishCitusCluster(running);
});

test(
  "pg_dist_poolinfo names the PgBouncer of every registered node, and routed writes pass through the primary's",
  { timeout: 60_000 },
  async () => {
    const rows = await nodesWithPool(coordinatorDb);
    assert.deepEqual(mismatches(rows), []);
    assert.equal(rows.length, 6);
    const primary = leaderOf(1);
    const before = await pooledTransactions(primary);
    const writer = await connectWriter(running, app, 'poolinfo-app');
    writer.start();
    await waitFor(() => writer.acked.length >= 20, { timeout: 15_000, message: 'the application writes' });
    await writer.stop();
    assert.deepEqual(writer.errors, []);
    const after = await pooledTransactions(primary);
    assert.ok(
      after - before >= 20,
      `PgBouncer of ${primary.name} pooled ${after - before} transactions for ${writer.acked.length} writes`,
    );
  },
);

for (const how of ['switchover', 'node death'] as const) {
  test(
    `a ${how} of group 1: pg_dist_node and pg_dist_poolinfo name the new primary and its PgBouncer together, ` +
      'never seen apart',
    { timeout: 150_000 },
    async (t) => {
      const from = leaderOf(1);
      const to = otherMember(running.cluster, from);
      const reader = watchGroupPrimary(coordinatorDb);
      if (how === 'switchover') {
        const res = await fetch(`${from.apiUrl}/switchover`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ leader: from.name, candidate: to.name }),
          signal: AbortSignal.timeout(60_000),
        });
        assert.equal(res.status, 200, await res.text());
      } else {
        await from.killAll();
      }
      running.leaders.set(1, await waitForLeader(running.cluster, 1, { timeout: 60_000 }));
      assert.equal(leaderOf(1).name, to.name);
      await waitForPoolinfo(
        (rows) =>
          rows.some(
            (r) => r.groupid === 1 && r.noderole === 'primary' && r.nodeport === to.pgPort && r.poolinfo === poolOf(to),
          ),
        `group 1's primary row names ${to.name} and its PgBouncer`,
      );
      const seen = await reader.stop();
      t.diagnostic(`${how}: ${seen.samples} samples of group 1's primary row and poolinfo`);
      assert.ok(seen.samples > 20, `${seen.samples} samples`);
      assert.deepEqual(seen.disagreements, [], 'pg_dist_node and pg_dist_poolinfo never disagree');

      // Writes now pass through the new primary's PgBouncer.
      const before = await pooledTransactions(to);
      const writer = await connectWriter(running, app, `poolinfo-after-${how}`);
      writer.start();
      await waitFor(() => writer.acked.length >= 10, { timeout: 15_000, message: 'the application writes again' });
      await writer.stop();
      assert.ok((await pooledTransactions(to)) - before >= 10, `writes pass through ${to.name}'s PgBouncer`);

      if (how === 'node death') from.start();
      await waitForReplicas(running.cluster, 1, { timeout: 90_000 });
      await waitForPoolinfo(allRegistered, `${from.name} is back as a secondary with its pooler`);
    },
  );
}

test(
  'a member whose pooler is removed by reload loses its poolinfo row, and gets it back',
  { timeout: 60_000 },
  async () => {
    const member = otherMember(running.cluster, leaderOf(2));
    const original = readFileSync(member.configPath, 'utf8');
    const reload = async (): Promise<void> => {
      const res = await fetch(`${member.apiUrl}/reload`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
      assert.ok(res.status === 200 || res.status === 202, `reload answered ${res.status}: ${await res.text()}`);
    };
    const config = YAML.parse(original) as { citus: Record<string, unknown> };
    delete config.citus.pooler;
    writeFileSync(member.configPath, YAML.stringify(config));
    await reload();
    await waitForPoolinfo(
      (rows) => rows.some((r) => r.nodeport === member.pgPort && r.poolinfo === null),
      `${member.name}'s row has no poolinfo`,
    );
    writeFileSync(member.configPath, original);
    await reload();
    await waitForPoolinfo(allRegistered, `${member.name}'s poolinfo is back`);
  },
);

test('a group added later is registered with its poolers', { timeout: 150_000 }, async () => {
  const added = await running.cluster.addGroup(3);
  for (const m of added) m.start();
  const leaders = await waitForGroups(running.cluster, [3]);
  running.leaders.set(3, leaders.get(3) as TestMember);
  await waitForPoolinfo(allRegistered, 'group 3 is registered with its poolers');
  assert.equal((await nodesWithPool(coordinatorDb)).filter((r) => r.groupid === 3 && r.poolinfo !== null).length, 2);
});
