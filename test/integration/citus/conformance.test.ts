// The conformance table of the Citus stand-in: one case per fact of citus-facts.md §1-4 (and
// the source-read ones marked so), run against the stand-in and, where the servers have Citus,
// against real Citus, on one formation reset between cases.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import { citusInstalled } from '../../../src/citus/bootstrap.ts';
import { COMPAT_SQL_PATH } from '../../../src/citus/extension.ts';
import {
  createPostgres,
  freePort,
  resolvePgBinDir,
  startStandInSync,
  useHarness,
  waitFor,
  type PgServer,
  type StandInSync,
} from '../../harness/index.ts';

useHarness();

type Mode = 'stand-in' | 'citus';
const H = '127.0.0.1';
const WAIT = { timeout: 20_000, interval: 50 };

interface Formation {
  mode: Mode;
  coordinator: PgServer;
  /** Group 1's and group 2's worker primaries. */
  w1: PgServer;
  w2: PgServer;
  /** Registered as group 1's secondary; the node promoted in the failover case. */
  s1: PgServer;
  /** Not registered: a server a case may add. */
  s2: PgServer;
  /** A port where nothing listens. */
  closedPort: number;
  ids: { coordinator: number; w1: number; w2: number; s1: number };
  baseline: Map<number, { nodename: string; nodeport: number }>;
}

interface Ctx {
  f: Formation;
  /** A new connection to the coordinator, closed after the case. */
  connect(server?: PgServer): Promise<pg.Client>;
}

/** What a call failed with, comparable in `expect` tables. */
interface SqlOutcome {
  sqlstate: string;
  message: string | RegExp;
}

type Expect = { rows: unknown } | { error: SqlOutcome };

interface Case {
  name: string;
  setup?: (ctx: Ctx) => Promise<void>;
  call: (ctx: Ctx) => Promise<unknown>;
  /** What the call returns, or the error it fails with; a function where ports matter. */
  expect: Expect | ((f: Formation) => Expect);
  /** Why a case does not run in a mode (the stand-in's test helpers, for instance). */
  skip?: Partial<Record<Mode, string>>;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** E1 of citus-facts.md. */
function e1(host: string, port: number): SqlOutcome {
  return {
    sqlstate: '08006',
    message: new RegExp(
      `^connection to the remote node postgres@${escape(host)}:${port} failed with the following error: ` +
        'Connection refused',
    ),
  };
}

/** E2 of citus-facts.md, naming one metadata worker (or any, with a pattern). */
function e2(node: string | RegExp): SqlOutcome {
  return {
    sqlstate: '55000',
    message:
      typeof node === 'string'
        ? `${node} is a metadata node, but is out of sync`
        : new RegExp(`^${node.source} is a metadata node, but is out of sync$`),
  };
}

const ANY_NODE = /(127\.0\.0\.1|localhost):\d+/;
const TRANSFER_MODE = "citus.shard_transfer_mode DEFAULT 'auto'::citus.shard_transfer_mode";
const NONTRANSACTIONAL: SqlOutcome = {
  sqlstate: 'XX000',
  message: 'this operation cannot be completed in nontransactional metadata sync mode',
};
const LOCK_TIMEOUT: SqlOutcome = { sqlstate: '55P03', message: 'canceling statement due to lock timeout' };

/** The error of a rejected call as an outcome, or the call's value. */
async function outcome<T>(promise: Promise<T>): Promise<T | SqlOutcome> {
  try {
    return await promise;
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { sqlstate: e.code ?? '', message: e.message };
  }
}

/** Deep equality where an expected RegExp matches a string. */
function matches(actual: unknown, expected: unknown): boolean {
  if (expected instanceof RegExp) return typeof actual === 'string' && expected.test(actual);
  if (typeof expected !== 'object' || expected === null) return Object.is(actual, expected);
  if (typeof actual !== 'object' || actual === null) return false;
  if (Array.isArray(expected) !== Array.isArray(actual)) return false;
  const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  return [...keys].every((k) =>
    matches((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k]),
  );
}

async function one<T>(client: pg.Client, sql: string, params?: unknown[]): Promise<T> {
  const r = await client.query(sql, params);
  return Object.values(r.rows[0] ?? {})[0] as T;
}

async function allSynced(client: pg.Client): Promise<boolean> {
  return one<boolean>(
    client,
    "SELECT bool_and(metadatasynced) FROM pg_dist_node WHERE hasmetadata AND noderole = 'primary'",
  );
}

async function rowSynced(client: pg.Client, nodeid: number): Promise<boolean> {
  return one<boolean>(client, 'SELECT metadatasynced FROM pg_dist_node WHERE nodeid = $1', [nodeid]);
}

/** Commits one citus_update_node. */
async function repoint(client: pg.Client, nodeid: number, name: string, port: number): Promise<void> {
  await client.query('SELECT citus_update_node($1, $2, $3)', [nodeid, name, port]);
}

async function addSecondaryOfW1(ctx: Ctx, client: pg.Client, port = ctx.f.closedPort): Promise<number> {
  return one<number>(client, 'SELECT citus_add_secondary_node($1, $2, $3, $4)', [H, port, H, ctx.f.w1.port]);
}

/** Restarts a server in recovery: a read-only standby at the same address. */
async function toStandby(server: PgServer): Promise<void> {
  await server.stop();
  await writeFile(join(server.dataDir, 'standby.signal'), '');
  await server.start();
}

/** The same transaction on a second session, with a short lock_timeout; rolled back. */
async function blockedOrNot(ctx: Ctx, sql: string, params: unknown[]): Promise<unknown> {
  const other = await ctx.connect();
  await other.query('BEGIN');
  await other.query("SET LOCAL lock_timeout = '300ms'");
  const result = await outcome(other.query(sql, params).then(() => 'not blocked'));
  await other.query('ROLLBACK');
  return result;
}

/** Whether a citus_update_node of `nodeid` on a second session is blocked (see blockedOrNot). */
function updateBlocked(ctx: Ctx, nodeid: number, port: number): Promise<unknown> {
  return blockedOrNot(ctx, 'SELECT citus_update_node($1, $2, $3)', [nodeid, 'localhost', port]);
}

/** What a call failed with, with the DETAIL and HINT Citus adds. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return 'no error';
  } catch (err) {
    const e = err as { code?: string; message: string; detail?: string; hint?: string };
    return { sqlstate: e.code ?? '', message: e.message, detail: e.detail, hint: e.hint };
  }
}

interface Notice {
  severity: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** The notices and warnings a client receives while `fn` runs, with what it returns. */
async function withNotices<T>(client: pg.Client, fn: () => Promise<T>): Promise<{ value: T; notices: Notice[] }> {
  const notices: Notice[] = [];
  const listener = (n: { severity?: string; message?: string; detail?: string; hint?: string }): void => {
    notices.push({ severity: n.severity ?? '', message: n.message ?? '', detail: n.detail, hint: n.hint });
  };
  client.on('notice', listener);
  try {
    return { value: await fn(), notices };
  } finally {
    client.off('notice', listener);
  }
}

/** A table `(id int PRIMARY KEY, v text)` distributed by id with `shardCount` shards. */
async function distribute(client: pg.Client, table: string, shardCount: number, colocateWith = 'default') {
  await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text)`);
  await client.query('SELECT create_distributed_table($1, $2, shard_count => $3, colocate_with => $4)', [
    table,
    'id',
    shardCount,
    colocateWith,
  ]);
}

/** How many placements each worker primary holds, by port. */
async function placementsByPort(client: pg.Client): Promise<Record<number, number>> {
  const r = await client.query<{ port: number; n: string }>(
    `SELECT n.nodeport AS port, count(*) AS n FROM pg_dist_placement x
       JOIN pg_dist_node n ON n.groupid = x.groupid AND n.noderole = 'primary' GROUP BY 1`,
  );
  return Object.fromEntries(r.rows.map((row) => [row.port, Number(row.n)]));
}

/** A table of 4 shards, all on group 1's primary: group 2 has no shards while it is created. */
async function allOnW1(ctx: Ctx, client: pg.Client, table = 'dist_a'): Promise<void> {
  await client.query("SELECT citus_set_node_property($1, $2, 'shouldhaveshards', false)", [H, ctx.f.w2.port]);
  await distribute(client, table, 4);
  await client.query("SELECT citus_set_node_property($1, $2, 'shouldhaveshards', true)", [H, ctx.f.w2.port]);
}

/** The state and detail keys of the latest rebalance, as citus_rebalance_status() reports it. */
async function rebalanceStatus(client: pg.Client): Promise<{ state: string; details: Record<string, unknown> }[]> {
  const r = await client.query<{ state: string; details: Record<string, unknown> }>(
    'SELECT state::text, details FROM citus_rebalance_status()',
  );
  return r.rows;
}

const CASES: Case[] = [
  // §1 and §2: citus_update_node
  {
    name: '§1 citus_update_node of an unknown node id fails with "node N not found"',
    call: async (ctx) => (await ctx.connect()).query("SELECT citus_update_node(987654, 'x', 1)"),
    expect: { error: { sqlstate: 'P0002', message: 'node 987654 not found' } },
  },
  {
    name: "§1 citus_update_node to another row's address fails",
    call: async (ctx) => repoint(await ctx.connect(), ctx.f.ids.w1, H, ctx.f.w2.port),
    expect: {
      error: { sqlstate: '55000', message: 'there is already another node with the specified hostname and port' },
    },
  },
  {
    name: '§1 citus_update_node contacts nobody: primary and secondary rows move with a metadata worker down',
    setup: async (ctx) => ctx.f.w2.stop(),
    call: async (ctx) => {
      const c = await ctx.connect();
      await c.query('BEGIN');
      await repoint(c, ctx.f.ids.s1, 'localhost', ctx.f.s1.port);
      await repoint(c, ctx.f.ids.w1, 'localhost', ctx.f.w1.port);
      await c.query('ROLLBACK');
      return 'moved';
    },
    expect: { rows: 'moved' },
  },
  {
    name: '§2 citus_update_node to the current address is a no-op that takes no lock',
    call: async (ctx) => {
      const c = await ctx.connect();
      await c.query('BEGIN');
      await repoint(c, ctx.f.ids.w1, H, ctx.f.w1.port);
      const other = await updateBlocked(ctx, ctx.f.ids.w1, ctx.f.w1.port);
      const synced = await allSynced(c);
      await c.query('ROLLBACK');
      return { other, synced };
    },
    expect: { rows: { other: 'not blocked', synced: true } },
  },
  {
    name: "§2 citus_update_node unsets metadatasynced on every metadata worker; the coordinator's stays synced",
    call: async (ctx) => {
      const c = await ctx.connect();
      await c.query('BEGIN');
      await repoint(c, ctx.f.ids.w2, 'localhost', ctx.f.w2.port);
      const r = await c.query<{ nodeid: number; metadatasynced: boolean }>(
        'SELECT nodeid, metadatasynced FROM pg_dist_node',
      );
      await c.query('ROLLBACK');
      const flag = (id: number): boolean | undefined => r.rows.find((row) => row.nodeid === id)?.metadatasynced;
      const { ids } = ctx.f;
      return { coordinator: flag(ids.coordinator), w1: flag(ids.w1), w2: flag(ids.w2), secondary: flag(ids.s1) };
    },
    expect: { rows: { coordinator: true, w1: false, w2: false, secondary: false } },
  },
  {
    name: '§2 (source) an open citus_update_node makes a citus_update_node of another group wait',
    call: async (ctx) => {
      const c = await ctx.connect();
      await c.query('BEGIN');
      await repoint(c, ctx.f.ids.w1, 'localhost', ctx.f.w1.port);
      const other = await updateBlocked(ctx, ctx.f.ids.w2, ctx.f.w2.port);
      await c.query('ROLLBACK');
      return other;
    },
    expect: { rows: LOCK_TIMEOUT },
  },
  {
    name: '§2 in the transaction of a citus_update_node, an add fails with E2',
    call: async (ctx) => {
      const c = await ctx.connect();
      await c.query('BEGIN');
      await repoint(c, ctx.f.ids.w2, 'localhost', ctx.f.w2.port);
      return addSecondaryOfW1(ctx, c);
    },
    expect: { error: e2(ANY_NODE) },
  },
  {
    name: '§2 in the transaction of a citus_update_node, a remove fails with E2',
    call: async (ctx) => {
      const c = await ctx.connect();
      await c.query('BEGIN');
      await repoint(c, ctx.f.ids.w2, 'localhost', ctx.f.w2.port);
      return c.query('SELECT citus_remove_node($1, $2)', [H, ctx.f.s1.port]);
    },
    expect: { error: e2(ANY_NODE) },
  },
  {
    name: '§2 §4 after a committed citus_update_node, the sync restores every flag and adds and removes succeed',
    setup: async (ctx) => repoint(await ctx.connect(), ctx.f.ids.w2, 'localhost', ctx.f.w2.port),
    call: async (ctx) => {
      const c = await ctx.connect();
      await waitFor(() => allSynced(c), { ...WAIT, message: 'every metadata worker is synced again' });
      const id = await addSecondaryOfW1(ctx, c);
      await c.query('SELECT citus_remove_node($1, $2)', [H, ctx.f.closedPort]);
      return { added: typeof id, removed: true };
    },
    expect: { rows: { added: 'number', removed: true } },
  },

  // §1: calls that contact every metadata worker
  {
    name: '§1 citus_add_secondary_node fails with E1 while a metadata worker is down',
    setup: async (ctx) => ctx.f.w2.stop(),
    call: async (ctx) => addSecondaryOfW1(ctx, await ctx.connect()),
    expect: (f) => ({ error: e1(H, f.w2.port) }),
  },
  {
    name: '§1 citus_remove_node fails with E1 while a metadata worker is down',
    setup: async (ctx) => ctx.f.w2.stop(),
    call: async (ctx) => (await ctx.connect()).query('SELECT citus_remove_node($1, $2)', [H, ctx.f.s1.port]),
    expect: (f) => ({ error: e1(H, f.w2.port) }),
  },
  {
    name: '§1 citus_set_coordinator_host fails with E1 while a metadata worker is down',
    setup: async (ctx) => ctx.f.w2.stop(),
    call: async (ctx) =>
      (await ctx.connect()).query("SELECT citus_set_coordinator_host('localhost', $1)", [ctx.f.coordinator.port]),
    expect: (f) => ({ error: e1(H, f.w2.port) }),
  },
  {
    name: '§1 citus_add_node of a secondary fails with E1 while a metadata worker is down',
    setup: async (ctx) => ctx.f.w2.stop(),
    call: async (ctx) =>
      (await ctx.connect()).query("SELECT citus_add_node($1, $2, groupid => 1, noderole => 'secondary')", [
        H,
        ctx.f.closedPort,
      ]),
    expect: (f) => ({ error: e1(H, f.w2.port) }),
  },
  {
    name: '§1 citus_add_secondary_node fails when a metadata worker is now a read-only standby',
    setup: async (ctx) => toStandby(ctx.f.w2),
    call: async (ctx) => addSecondaryOfW1(ctx, await ctx.connect()),
    expect: { error: { sqlstate: '25006', message: 'cannot execute INSERT in a read-only transaction' } },
  },
  {
    name: '§1 citus_remove_node fails when a metadata worker is now a read-only standby',
    setup: async (ctx) => toStandby(ctx.f.w2),
    call: async (ctx) => (await ctx.connect()).query('SELECT citus_remove_node($1, $2)', [H, ctx.f.s1.port]),
    expect: { error: { sqlstate: '25006', message: 'cannot execute DELETE in a read-only transaction' } },
  },
  {
    name: '§1 adding an address already registered returns its nodeid and contacts nobody, with a worker down',
    setup: async (ctx) => ctx.f.w2.stop(),
    call: async (ctx) => {
      const c = await ctx.connect();
      return {
        primary: (await one<number>(c, 'SELECT citus_add_node($1, $2, 1)', [H, ctx.f.w1.port])) === ctx.f.ids.w1,
        secondary: (await addSecondaryOfW1(ctx, c, ctx.f.s1.port)) === ctx.f.ids.s1,
      };
    },
    expect: { rows: { primary: true, secondary: true } },
  },
  {
    name: '§1 a new secondary row is active without metadata, and the secondary is not contacted',
    call: async (ctx) => {
      const c = await ctx.connect();
      const id = await addSecondaryOfW1(ctx, c);
      const r = await c.query(
        'SELECT groupid, noderole::text, hasmetadata, metadatasynced, isactive FROM pg_dist_node WHERE nodeid = $1',
        [id],
      );
      return r.rows;
    },
    expect: {
      rows: [{ groupid: 1, noderole: 'secondary', hasmetadata: false, metadatasynced: false, isactive: true }],
    },
  },
  {
    name: '§1 citus_add_node without groupid creates a new group; the new worker primary gets metadata',
    call: async (ctx) => {
      const c = await ctx.connect();
      const id = await one<number>(c, 'SELECT citus_add_node($1, $2)', [H, ctx.f.s2.port]);
      const r = await c.query<{ groupid: number }>(
        'SELECT groupid, hasmetadata, metadatasynced, isactive FROM pg_dist_node WHERE nodeid = $1',
        [id],
      );
      const row = r.rows[0];
      return { ...row, groupid: row.groupid > 2 };
    },
    expect: { rows: { groupid: true, hasmetadata: true, metadatasynced: true, isactive: true } },
  },
  {
    name: '§1 adding a worker primary that cannot be reached fails with E1 (the new node is activated)',
    call: async (ctx) => (await ctx.connect()).query('SELECT citus_add_node($1, $2, 7)', [H, ctx.f.closedPort]),
    expect: (f) => ({ error: e1(H, f.closedPort) }),
  },
  {
    name: "§1 the coordinator's and a worker primary's rows have metadata and are synced",
    call: async (ctx) => {
      const r = await (
        await ctx.connect()
      ).query(
        'SELECT hasmetadata, metadatasynced, isactive FROM pg_dist_node WHERE nodeid IN ($1, $2) ORDER BY groupid',
        [ctx.f.ids.coordinator, ctx.f.ids.w1],
      );
      return r.rows;
    },
    expect: {
      rows: [
        { hasmetadata: true, metadatasynced: true, isactive: true },
        { hasmetadata: true, metadatasynced: true, isactive: true },
      ],
    },
  },
  {
    name: '§1 citus_remove_node of an unknown address fails',
    call: async (ctx) => (await ctx.connect()).query("SELECT citus_remove_node('127.0.0.1', 1)"),
    expect: { error: { sqlstate: 'XX000', message: 'node at "127.0.0.1:1" does not exist' } },
  },
  {
    name: '§1 in nontransactional metadata sync mode citus_add_secondary_node fails',
    call: async (ctx) => {
      const c = await ctx.connect();
      await c.query('BEGIN');
      await c.query("SET LOCAL citus.metadata_sync_mode = 'nontransactional'");
      return addSecondaryOfW1(ctx, c);
    },
    expect: { error: NONTRANSACTIONAL },
  },
  {
    name: '§1 in nontransactional metadata sync mode citus_remove_node fails',
    call: async (ctx) => {
      const c = await ctx.connect();
      await c.query('BEGIN');
      await c.query("SET LOCAL citus.metadata_sync_mode = 'nontransactional'");
      return c.query('SELECT citus_remove_node($1, $2)', [H, ctx.f.s1.port]);
    },
    expect: { error: NONTRANSACTIONAL },
  },
  {
    name: "§1 in nontransactional metadata sync mode citus_update_node of a secondary's row fails",
    call: async (ctx) => {
      const c = await ctx.connect();
      await c.query('BEGIN');
      await c.query("SET LOCAL citus.metadata_sync_mode = 'nontransactional'");
      return repoint(c, ctx.f.ids.s1, 'localhost', ctx.f.s1.port);
    },
    expect: { error: NONTRANSACTIONAL },
  },
  {
    name: '§1 a coordinator row named localhost blocks adds',
    setup: async (ctx) => {
      await (await ctx.connect()).query("SELECT citus_set_coordinator_host('localhost', $1)", [ctx.f.coordinator.port]);
    },
    call: async (ctx) => addSecondaryOfW1(ctx, await ctx.connect()),
    expect: {
      error: {
        sqlstate: 'XX000',
        message: 'cannot add a worker node when the coordinator hostname is set to localhost',
      },
    },
  },

  // §1 and §2: citus_pause_node_within_txn
  {
    name: '§1 citus_pause_node_within_txn of an unknown node id fails with "node N not found"',
    call: async (ctx) => (await ctx.connect()).query('SELECT citus_pause_node_within_txn(987654)'),
    expect: { error: { sqlstate: 'P0002', message: 'node 987654 not found' } },
  },
  {
    name: '§2 citus_pause_node_within_txn takes the locks of citus_update_node',
    call: async (ctx) => {
      const c = await ctx.connect();
      await c.query('BEGIN');
      await c.query('SELECT citus_pause_node_within_txn($1)', [ctx.f.ids.w1]);
      const other = await updateBlocked(ctx, ctx.f.ids.w1, ctx.f.w1.port);
      await c.query('ROLLBACK');
      return other;
    },
    expect: { rows: LOCK_TIMEOUT },
  },
  {
    name: '§2 citus_pause_node_within_txn renames nothing and unsyncs nothing',
    call: async (ctx) => {
      const c = await ctx.connect();
      await c.query('BEGIN');
      await c.query('SELECT citus_pause_node_within_txn($1, true, 1000)', [ctx.f.ids.w1]);
      const r = await c.query('SELECT nodename, nodeport FROM pg_dist_node WHERE nodeid = $1', [ctx.f.ids.w1]);
      const synced = await allSynced(c);
      await c.query('ROLLBACK');
      return { row: r.rows[0], synced };
    },
    expect: (f) => ({ rows: { row: { nodename: H, nodeport: f.w1.port }, synced: true } }),
  },
  {
    name: '§2 (source) citus_pause_node_within_txn on a secondary takes no lock',
    call: async (ctx) => {
      const c = await ctx.connect();
      await c.query('BEGIN');
      await c.query('SELECT citus_pause_node_within_txn($1)', [ctx.f.ids.s1]);
      const other = await updateBlocked(ctx, ctx.f.ids.s1, ctx.f.s1.port);
      await c.query('ROLLBACK');
      return other;
    },
    expect: { rows: 'not blocked' },
  },

  // §3 and §4: failover and the sync
  {
    name: '§3 the failover sequence works with the old primary dead; the sync then restores every flag',
    setup: async (ctx) => ctx.f.w1.stop(),
    call: async (ctx) => {
      const { f } = ctx;
      const c = await ctx.connect();
      await c.query('BEGIN');
      await c.query('SELECT citus_update_node($1, $2, $3, true, 1000)', [f.ids.w1, `${H}-old`, f.w1.port]);
      await repoint(c, f.ids.s1, H, f.w1.port);
      await c.query('SELECT citus_update_node($1, $2, $3, true, 1000)', [f.ids.w1, H, f.s1.port]);
      await c.query('COMMIT');
      await waitFor(() => allSynced(c), { ...WAIT, message: 'every metadata worker is synced after the failover' });
      const r = await c.query<{ nodeid: number; nodeport: number }>('SELECT nodeid, nodeport FROM pg_dist_node');
      const port = (id: number): number | undefined => r.rows.find((row) => row.nodeid === id)?.nodeport;
      return { primary: port(f.ids.w1) === f.s1.port, secondary: port(f.ids.s1) === f.w1.port };
    },
    expect: { rows: { primary: true, secondary: true } },
  },
  {
    name: '§3 after the failover COMMIT, routed writes go to the new primary',
    skip: { citus: 'routed through citus_compat.routed_write, a stand-in helper' },
    setup: async (ctx) => ctx.f.w1.stop(),
    call: async (ctx) => {
      const { f } = ctx;
      const c = await ctx.connect();
      await c.query('BEGIN');
      await c.query('SELECT citus_update_node($1, $2, $3, true, 1000)', [f.ids.w1, `${H}-old`, f.w1.port]);
      await repoint(c, f.ids.s1, H, f.w1.port);
      await c.query('SELECT citus_update_node($1, $2, $3, true, 1000)', [f.ids.w1, H, f.s1.port]);
      await c.query('COMMIT');
      await c.query("SELECT citus_compat.routed_write(1, 'CREATE TABLE IF NOT EXISTS routed (n int)')");
      const r = await c.query<{ r: { port: string } }>(
        "SELECT citus_compat.routed_read(1, 'SELECT current_setting(''port'') AS port') AS r",
      );
      return Number(r.rows[0].r.port) === f.s1.port;
    },
    expect: { rows: true },
  },
  {
    name: '§4 ROLLBACK of a rename restores names and flags and triggers no sync',
    call: async (ctx) => {
      const { f } = ctx;
      const c = await ctx.connect();
      const copy = await ctx.connect(f.w1);
      const versions = "SELECT string_agg(xmin::text, ',' ORDER BY nodeid) FROM pg_dist_node";
      const before = await one<string>(copy, versions);
      await c.query('BEGIN');
      await repoint(c, f.ids.w2, `${H}-demoted`, f.w2.port);
      await c.query('ROLLBACK');
      const r = await c.query('SELECT nodename FROM pg_dist_node WHERE nodeid = $1', [f.ids.w2]);
      const copyUntouched = (await one<string>(copy, versions)) === before;
      return { name: r.rows[0], synced: await allSynced(c), copyUntouched };
    },
    expect: { rows: { name: { nodename: H }, synced: true, copyUntouched: true } },
  },
  {
    name: '§4 a committed <host>-demoted name never syncs; adds fail with E2 naming it until it is repointed',
    setup: async (ctx) => repoint(await ctx.connect(), ctx.f.ids.w2, `${H}-demoted`, ctx.f.w2.port),
    call: async (ctx) => {
      const { f } = ctx;
      const c = await ctx.connect();
      // The sync has run once group 1's worker is synced again; group 2's could not be.
      await waitFor(() => rowSynced(c, f.ids.w1), { ...WAIT, message: "group 1's worker is synced" });
      const demotedSynced = await rowSynced(c, f.ids.w2);
      const add = await outcome(addSecondaryOfW1(ctx, c));
      const remove = await outcome(c.query('SELECT citus_remove_node($1, $2)', [H, f.s1.port]));
      await repoint(c, f.ids.w2, H, f.w2.port);
      await waitFor(() => allSynced(c), { ...WAIT, message: 'every metadata worker is synced after the repoint' });
      const after = typeof (await addSecondaryOfW1(ctx, c));
      return { demotedSynced, add, remove: (remove as SqlOutcome).message, after };
    },
    expect: (f) => ({
      rows: {
        demotedSynced: false,
        add: e2(`${H}-demoted:${f.w2.port}`),
        remove: `${H}-demoted:${f.w2.port} is a metadata node, but is out of sync`,
        after: 'number',
      },
    }),
  },
  {
    name: '§4 a metadata worker that was down is synced once it is back',
    setup: async (ctx) => {
      await ctx.f.w2.stop();
      await repoint(await ctx.connect(), ctx.f.ids.w1, 'localhost', ctx.f.w1.port);
    },
    call: async (ctx) => {
      const { f } = ctx;
      const c = await ctx.connect();
      await waitFor(() => rowSynced(c, f.ids.w1), { ...WAIT, message: "group 1's worker is synced" });
      const whileDown = await rowSynced(c, f.ids.w2);
      await f.w2.start();
      await waitFor(() => allSynced(c), { ...WAIT, message: 'the worker that came back is synced' });
      return { whileDown, afterStart: true };
    },
    expect: { rows: { whileDown: false, afterStart: true } },
  },
  // Distributed tables, moves and the rebalancer: read in Citus 13.2's source, not measured.
  {
    name: 'shards (source) the 13.2 signatures of the distributed-table, move and rebalancer functions',
    call: async (ctx) => {
      const r = await (
        await ctx.connect()
      ).query<{ name: string; args: string; result: string }>(
        `SELECT p.proname AS name, pg_get_function_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result
           FROM pg_proc p
          WHERE p.proname IN ('create_distributed_table', 'citus_move_shard_placement', 'citus_rebalance_start',
                              'citus_rebalance_status', 'citus_rebalance_stop', 'citus_rebalance_wait',
                              'citus_drain_node', 'shard_name')
          ORDER BY 1, 2`,
      );
      return r.rows.map((row) => [row.name, row.args === '' ? [] : row.args.split(', '), row.result]);
    },
    expect: {
      rows: [
        [
          'citus_drain_node',
          [
            'nodename text',
            'nodeport integer',
            `shard_transfer_mode ${TRANSFER_MODE}`,
            'rebalance_strategy name DEFAULT NULL::name',
          ],
          'void',
        ],
        [
          'citus_move_shard_placement',
          ['shard_id bigint', 'source_node_id integer', 'target_node_id integer', `transfer_mode ${TRANSFER_MODE}`],
          'void',
        ],
        [
          'citus_move_shard_placement',
          [
            'shard_id bigint',
            'source_node_name text',
            'source_node_port integer',
            'target_node_name text',
            'target_node_port integer',
            `shard_transfer_mode ${TRANSFER_MODE}`,
          ],
          'void',
        ],
        [
          'citus_rebalance_start',
          [
            'rebalance_strategy name DEFAULT NULL::name',
            'drain_only boolean DEFAULT false',
            `shard_transfer_mode ${TRANSFER_MODE}`,
            'parallel_transfer_reference_tables boolean DEFAULT false',
            'parallel_transfer_colocated_shards boolean DEFAULT false',
          ],
          'bigint',
        ],
        [
          'citus_rebalance_status',
          ['raw boolean DEFAULT false'],
          'TABLE(job_id bigint, state citus_job_status, job_type name, description text, ' +
            'started_at timestamp with time zone, finished_at timestamp with time zone, details jsonb)',
        ],
        ['citus_rebalance_stop', [], 'void'],
        ['citus_rebalance_wait', [], 'void'],
        [
          'create_distributed_table',
          [
            'table_name regclass',
            'distribution_column text',
            "distribution_type citus.distribution_type DEFAULT 'hash'::citus.distribution_type",
            "colocate_with text DEFAULT 'default'::text",
            'shard_count integer DEFAULT NULL::integer',
          ],
          'void',
        ],
        ['shard_name', ['object_name regclass', 'shard_id bigint', 'skip_qualify_public boolean DEFAULT true'], 'text'],
      ],
    },
  },
  {
    name: 'shards (source) create_distributed_table splits the int32 hash range evenly and places shards round-robin',
    call: async (ctx) => {
      const c = await ctx.connect();
      await distribute(c, 'dist_a', 4);
      const r = await c.query<{ shardminvalue: string; shardmaxvalue: string; nodeport: number }>(
        `SELECT s.shardminvalue, s.shardmaxvalue, n.nodeport FROM pg_dist_shard s
           JOIN pg_dist_placement x USING (shardid) JOIN pg_dist_node n ON n.groupid = x.groupid
          WHERE s.logicalrelid = 'dist_a'::regclass AND n.noderole = 'primary' ORDER BY s.shardid`,
      );
      const p = await c.query(
        "SELECT partmethod, repmodel FROM pg_dist_partition WHERE logicalrelid = 'dist_a'::regclass",
      );
      return { shards: r.rows, partition: p.rows[0] };
    },
    expect: (f) => {
      // the primaries that should have shards, sorted by name and then port
      const [first, second] = [f.w1.port, f.w2.port].sort((a, b) => a - b);
      const shard = (min: string, max: string, nodeport: number) => ({
        shardminvalue: min,
        shardmaxvalue: max,
        nodeport,
      });
      return {
        rows: {
          shards: [
            shard('-2147483648', '-1073741825', first),
            shard('-1073741824', '-1', second),
            shard('0', '1073741823', first),
            shard('1073741824', '2147483647', second),
          ],
          partition: { partmethod: 'h', repmodel: 's' },
        },
      };
    },
  },
  {
    name: 'shards (source) tables of one shard count and key type colocate; colocate_with none makes a new group',
    call: async (ctx) => {
      const c = await ctx.connect();
      await distribute(c, 'dist_a', 4);
      await distribute(c, 'dist_b', 4);
      await distribute(c, 'dist_c', 4, 'none');
      await c.query('CREATE TABLE dist_d (id bigint PRIMARY KEY)');
      await c.query("SELECT create_distributed_table('dist_d', 'id', shard_count => 4)");
      const r = await c.query<{ t: string; colocationid: number }>(
        "SELECT logicalrelid::text AS t, colocationid FROM pg_dist_partition WHERE logicalrelid::text LIKE 'dist_%'",
      );
      const group = (t: string): number | undefined => r.rows.find((row) => row.t === t)?.colocationid;
      return {
        aWithB: group('dist_a') === group('dist_b'),
        aWithC: group('dist_a') === group('dist_c'),
        aWithD: group('dist_a') === group('dist_d'),
      };
    },
    expect: { rows: { aWithB: true, aWithC: false, aWithD: false } },
  },
  {
    name: 'shards (source) shard_name leaves public tables unqualified',
    call: async (ctx) => {
      const c = await ctx.connect();
      await distribute(c, 'dist_a', 4);
      return one<boolean>(
        c,
        `SELECT shard_name('dist_a', min(shardid)) = 'dist_a_' || min(shardid)
           FROM pg_dist_shard WHERE logicalrelid = 'dist_a'::regclass`,
      );
    },
    expect: { rows: true },
  },
  {
    name: 'shards (source) a move takes the colocated shards along; metadata workers follow; the sources await cleanup',
    call: async (ctx) => {
      const { f } = ctx;
      const c = await ctx.connect();
      await distribute(c, 'dist_a', 4);
      await distribute(c, 'dist_b', 4);
      const shard = await one<string>(
        c,
        `SELECT min(s.shardid) FROM pg_dist_shard s JOIN pg_dist_placement x USING (shardid)
          WHERE s.logicalrelid = 'dist_a'::regclass AND x.groupid = 1`,
      );
      await c.query("SELECT citus_move_shard_placement($1, $2, $3, $2, $4, 'block_writes')", [
        shard,
        H,
        f.w1.port,
        f.w2.port,
      ]);
      const placed = `SELECT string_agg(x.groupid::text, ',' ORDER BY s.logicalrelid::text) FROM pg_dist_shard s
                        JOIN pg_dist_placement x USING (shardid)
                       WHERE s.shardminvalue = (SELECT shardminvalue FROM pg_dist_shard WHERE shardid = $1)`;
      const cleanup = await c.query<{ object_name: string; node_group_id: number; policy_type: number }>(
        'SELECT object_name, node_group_id, policy_type FROM pg_dist_cleanup ORDER BY object_name',
      );
      return {
        coordinator: await one<string>(c, placed, [shard]),
        w1: await one<string>(await ctx.connect(f.w1), placed, [shard]),
        w2: await one<string>(await ctx.connect(f.w2), placed, [shard]),
        cleanup: cleanup.rows.map((row) => ({ ...row, object_name: row.object_name.replace(/_\d+$/, '') })),
      };
    },
    expect: {
      rows: {
        coordinator: '2,2',
        w1: '2,2',
        w2: '2,2',
        cleanup: [
          { object_name: 'public.dist_a', node_group_id: 1, policy_type: 2 },
          { object_name: 'public.dist_b', node_group_id: 1, policy_type: 2 },
        ],
      },
    },
  },
  {
    name: 'shards (source) a move fails with E1 while a metadata worker is down',
    setup: async (ctx) => {
      const c = await ctx.connect();
      await c.query('SELECT citus_add_node($1, $2)', [H, ctx.f.s2.port]);
      await distribute(c, 'dist_a', 6);
      await ctx.f.s2.stop();
    },
    call: async (ctx) => {
      const c = await ctx.connect();
      const shard = await one<string>(
        c,
        `SELECT min(s.shardid) FROM pg_dist_shard s JOIN pg_dist_placement x USING (shardid)
          WHERE s.logicalrelid = 'dist_a'::regclass AND x.groupid = 1`,
      );
      return c.query("SELECT citus_move_shard_placement($1, $2, $3, $2, $4, 'block_writes')", [
        shard,
        H,
        ctx.f.w1.port,
        ctx.f.w2.port,
      ]);
    },
    expect: (f) => ({ error: e1(H, f.s2.port) }),
  },
  {
    name: 'shards (source) moving a shard to the node it is on fails',
    call: async (ctx) => {
      const c = await ctx.connect();
      await distribute(c, 'dist_a', 4);
      return c.query(
        `SELECT citus_move_shard_placement(min(shardid), $1, $2, $1, $2)
           FROM pg_dist_shard WHERE logicalrelid = 'dist_a'::regclass`,
        [H, ctx.f.w1.port],
      );
    },
    expect: { error: { sqlstate: '22023', message: 'cannot move shard to the same node' } },
  },
  {
    name: 'shards (source) citus_remove_node of a primary holding the only placement of a shard fails',
    call: async (ctx) => {
      const c = await ctx.connect();
      await distribute(c, 'dist_a', 4);
      return failure(c.query('SELECT citus_remove_node($1, $2)', [H, ctx.f.w1.port]));
    },
    expect: (f) => ({
      rows: {
        sqlstate: 'XX000',
        message: new RegExp(
          `^cannot remove or disable the node ${escape(H)}:${f.w1.port} because because it contains the only ` +
            'shard placement for shard \\d+$',
        ),
        detail: 'One of the table(s) that prevents the operation complete successfully is public.dist_a',
        hint: 'To proceed, either drop the tables or use undistribute_table() function to convert them to local tables',
      },
    }),
  },
  {
    name: 'shards (source) citus_rebalance_start without distributed tables returns NULL: No tables to rebalance',
    call: async (ctx) => {
      const c = await ctx.connect();
      const { value, notices } = await withNotices(c, () => one<string | null>(c, 'SELECT citus_rebalance_start()'));
      return { value, notices: notices.map((n) => n.message) };
    },
    expect: { rows: { value: null, notices: ['No tables to rebalance'] } },
  },
  {
    name: 'shards (source) citus_rebalance_start with nothing to move returns NULL: No moves available for rebalancing',
    call: async (ctx) => {
      const c = await ctx.connect();
      await distribute(c, 'dist_a', 4);
      const { value, notices } = await withNotices(c, () => one<string | null>(c, 'SELECT citus_rebalance_start()'));
      return { value, notices: notices.map((n) => n.message) };
    },
    expect: { rows: { value: null, notices: ['No moves available for rebalancing'] } },
  },
  {
    name: 'shards (source) a second citus_rebalance_start while one is scheduled fails: A rebalance is already running',
    call: async (ctx) => {
      const c = await ctx.connect();
      await allOnW1(ctx, c);
      await c.query('BEGIN');
      const job = await one<string>(c, "SELECT citus_rebalance_start(shard_transfer_mode => 'block_writes')");
      const second = await failure(c.query("SELECT citus_rebalance_start(shard_transfer_mode => 'block_writes')"));
      await c.query('ROLLBACK');
      return {
        job: typeof job,
        second: {
          ...(second as object),
          message: (second as { message: string }).message.replace(` job ${job}`, ' job N'),
        },
      };
    },
    expect: {
      rows: {
        job: 'string',
        second: {
          sqlstate: 'XX000',
          message: 'A rebalance is already running as job N',
          detail: 'A rebalance was already scheduled as background job',
          hint: 'To monitor progress, run: SELECT * FROM citus_rebalance_status();',
        },
      },
    },
  },
  {
    name: 'shards (source) citus_rebalance_start schedules a job; citus_rebalance_status follows it to finished',
    call: async (ctx) => {
      const c = await ctx.connect();
      await allOnW1(ctx, c);
      // the status in the scheduling transaction, before the monitor can see the job
      await c.query('BEGIN');
      const { value: job, notices } = await withNotices(c, () =>
        one<string>(c, "SELECT citus_rebalance_start(shard_transfer_mode => 'block_writes')"),
      );
      const started = await rebalanceStatus(c);
      await c.query('COMMIT');
      await c.query('SELECT citus_rebalance_wait()');
      const ended = await rebalanceStatus(c);
      return {
        notices: notices.map((n) => ({ ...n, message: n.message.replace(` job ${job}`, ' job N') })),
        started,
        ended,
        placements: Object.values(await placementsByPort(c)),
      };
    },
    expect: {
      rows: {
        notices: [
          {
            severity: 'NOTICE',
            message: 'Scheduled 2 moves as job N',
            detail: 'Rebalance scheduled as background job',
            hint: 'To monitor progress, run: SELECT * FROM citus_rebalance_status();',
          },
        ],
        // the second move waits for the first (same colocation group)
        started: [{ state: 'scheduled', details: { tasks: [], task_state_counts: { runnable: 1, blocked: 1 } } }],
        ended: [{ state: 'finished', details: { tasks: [], task_state_counts: { done: 2 } } }],
        placements: [2, 2],
      },
    },
  },
  {
    name: 'shards (source) citus_rebalance_stop without a rebalance fails',
    call: async (ctx) => (await ctx.connect()).query('SELECT citus_rebalance_stop()'),
    expect: { error: { sqlstate: 'XX000', message: 'no ongoing rebalance that can be stopped' } },
  },
  {
    name: 'shards (source) citus_rebalance_wait without a rebalance warns',
    call: async (ctx) => {
      const c = await ctx.connect();
      const { notices } = await withNotices(c, () => c.query('SELECT citus_rebalance_wait()'));
      return notices.map((n) => `${n.severity}: ${n.message}`);
    },
    expect: { rows: ['WARNING: no ongoing rebalance that can be waited on'] },
  },
  {
    name: 'shards (source) citus_drain_node moves every placement off the node and leaves it without shouldhaveshards',
    call: async (ctx) => {
      const { f } = ctx;
      const c = await ctx.connect();
      await distribute(c, 'dist_a', 4);
      const { notices } = await withNotices(c, () =>
        c.query("SELECT citus_drain_node($1, $2, 'block_writes')", [H, f.w1.port]),
      );
      const should = await one<boolean>(c, 'SELECT shouldhaveshards FROM pg_dist_node WHERE nodeid = $1', [f.ids.w1]);
      return {
        placements: await placementsByPort(c),
        should,
        notices: notices.map((n) => n.message.replace(/^Moving shard \d+ /, 'Moving shard N ')),
      };
    },
    expect: (f) => {
      const moving = `Moving shard N from ${H}:${f.w1.port} to ${H}:${f.w2.port} ...`;
      return { rows: { placements: { [f.w2.port]: 4 }, should: false, notices: [moving, moving] } };
    },
  },
  {
    name: 'shards (source) tasks left running when the monitor stopped run again at its next start',
    call: async (ctx) => {
      const c = await ctx.connect();
      await allOnW1(ctx, c);
      await c.query('BEGIN');
      await c.query("SELECT citus_rebalance_start(shard_transfer_mode => 'block_writes')");
      await c.query("UPDATE pg_dist_background_task SET status = 'running', pid = 999999 WHERE status = 'runnable'");
      await c.query('COMMIT');
      await c.end();
      await ctx.f.coordinator.stop();
      await ctx.f.coordinator.start();
      const after = await ctx.connect();
      await after.query('SELECT citus_rebalance_wait()');
      return {
        ended: (await rebalanceStatus(after)).map((row) => row.state),
        placements: Object.values(await placementsByPort(after)),
      };
    },
    expect: { rows: { ended: ['finished'], placements: [2, 2] } },
  },
  {
    name: 'distributed rows: create_distributed_table moves the rows of the table into its shards',
    skip: { citus: 'counted through citus_compat.dist_query, a stand-in helper' },
    call: async (ctx) => {
      const c = await ctx.connect();
      await c.query('CREATE TABLE dist_a (id int PRIMARY KEY, v text)');
      await c.query("INSERT INTO dist_a SELECT g, 'x' FROM generate_series(1, 100) g");
      await c.query("SELECT create_distributed_table('dist_a', 'id', shard_count => 4)");
      return {
        local: await one<string>(c, 'SELECT count(*) FROM ONLY dist_a'),
        shards: await one<string>(c, "SELECT count(*) FROM citus_compat.dist_query('dist_a', 'SELECT id FROM %s')"),
      };
    },
    expect: { rows: { local: '0', shards: '100' } },
  },
  {
    name: 'distributed rows: a write waits while a move holds its shard, then reaches the new placement',
    skip: { citus: 'written through citus_compat.dist_exec, a stand-in helper' },
    call: async (ctx) => {
      const { f } = ctx;
      const c = await ctx.connect();
      await distribute(c, 'dist_a', 4);
      const write =
        "SELECT citus_compat.dist_exec('dist_a', 7, 'INSERT INTO %s VALUES (7, ''x'') ON CONFLICT DO NOTHING')";
      const shard = await one<string>(
        c,
        "SELECT citus_compat.shard_for_hash('dist_a', citus_compat.hash_key('dist_a', 7))",
      );
      const [from, to] =
        (await one<number>(c, 'SELECT groupid FROM pg_dist_placement WHERE shardid = $1', [shard])) === 1
          ? [f.w1.port, f.w2.port]
          : [f.w2.port, f.w1.port];
      await c.query('BEGIN');
      await c.query("SELECT citus_move_shard_placement($1, $2, $3, $2, $4, 'block_writes')", [shard, H, from, to]);
      const during = await blockedOrNot(ctx, write, []);
      await c.query('COMMIT');
      const after = await one<string>(await ctx.connect(), write);
      const rows = await one<string>(c, "SELECT count(*) FROM citus_compat.dist_query('dist_a', 'SELECT id FROM %s')");
      const port = await one<number>(
        c,
        `SELECT n.nodeport FROM pg_dist_placement x JOIN pg_dist_node n ON n.groupid = x.groupid
          WHERE x.shardid = $1 AND n.noderole = 'primary'`,
        [shard],
      );
      return { during, after, rows, moved: port === to };
    },
    expect: { rows: { during: LOCK_TIMEOUT, after: '1', rows: '1', moved: true } },
  },
  {
    name: '§5 recover_prepared_transactions() returns how many it recovered',
    call: async (ctx) => one<number>(await ctx.connect(), 'SELECT recover_prepared_transactions()'),
    expect: { rows: 0 },
  },
];

// ---------------------------------------------------------------------------------------------
// The formation and its reset.

async function startServers(mode: Mode): Promise<PgServer[]> {
  const base: Record<string, string> = { shared_buffers: '16MB', max_connections: '40' };
  const parameters: Record<string, string> =
    mode === 'citus'
      ? {
          ...base,
          shared_preload_libraries: 'citus',
          'citus.metadata_sync_retry_interval': '1s',
          // Citus's self-signed TLS is set up at CREATE EXTENSION; the test servers need none.
          'citus.node_conninfo': 'sslmode=prefer',
          max_prepared_transactions: '40',
          'citus.background_task_queue_interval': '1s',
        }
      : // The lock helper of force => true and the rebalancer connect back through this name.
        { ...base, 'citus.local_hostname': H, 'citus.background_task_queue_interval': '1s' };
  return Promise.all(Array.from({ length: 5 }, () => createPostgres({ parameters })));
}

async function installEverywhere(mode: Mode, servers: PgServer[]): Promise<void> {
  const script = mode === 'stand-in' ? await readFile(COMPAT_SQL_PATH, 'utf8') : 'CREATE EXTENSION citus';
  for (const server of servers) await server.query(script);
}

async function formation(mode: Mode): Promise<Formation> {
  const servers = await startServers(mode);
  await installEverywhere(mode, servers);
  const [coordinator, w1, w2, s1, s2] = servers;
  const c = coordinator;
  await c.query('SELECT citus_set_coordinator_host($1, $2)', [H, c.port]);
  const id = async (sql: string, params: unknown[]): Promise<number> =>
    Number(Object.values((await c.query(sql, params)).rows[0])[0]);
  const ids = {
    coordinator: await id('SELECT nodeid FROM pg_dist_node WHERE groupid = 0', []),
    // Without groupid, as Citus's own group sequence would number them: 1 and 2 on a fresh one.
    w1: await id('SELECT citus_add_node($1, $2)', [H, w1.port]),
    w2: await id('SELECT citus_add_node($1, $2)', [H, w2.port]),
    s1: await id('SELECT citus_add_secondary_node($1, $2, $3, $4)', [H, s1.port, H, w1.port]),
  };
  const rows = await c.query<{ nodeid: number; nodename: string; nodeport: number }>(
    'SELECT nodeid, nodename, nodeport FROM pg_dist_node',
  );
  const groups = await c.query('SELECT groupid FROM pg_dist_node WHERE nodeid IN ($1, $2) ORDER BY nodeid', [
    ids.w1,
    ids.w2,
  ]);
  assert.deepEqual(groups.rows, [{ groupid: 1 }, { groupid: 2 }]);
  const baseline = new Map(rows.rows.map((r) => [r.nodeid, { nodename: r.nodename, nodeport: r.nodeport }]));
  return { mode, coordinator, w1, w2, s1, s2, closedPort: await freePort(), ids, baseline };
}

async function inRecovery(server: PgServer): Promise<boolean> {
  return (await server.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0].r;
}

/** Back to the baseline: every server up and primary, the baseline rows and nothing else, synced. */
async function reset(f: Formation): Promise<void> {
  const servers = [f.coordinator, f.w1, f.w2, f.s1, f.s2];
  for (const server of servers) {
    if (server.process?.running !== true) await server.start();
    if (await inRecovery(server)) {
      await server.query('SELECT pg_promote()');
      await waitFor(async () => !(await inRecovery(server)), { ...WAIT, message: `${server.name} is promoted` });
    }
  }
  const c = f.coordinator;
  const current = await c.query<{ nodeid: number; nodename: string; nodeport: number; groupid: number }>(
    'SELECT nodeid, nodename, nodeport, groupid FROM pg_dist_node',
  );
  const moved = current.rows.filter((r) => {
    const want = f.baseline.get(r.nodeid);
    return want !== undefined && r.groupid !== 0 && (want.nodename !== r.nodename || want.nodeport !== r.nodeport);
  });
  if (moved.length > 0) {
    // Through free names first: the rows may have swapped addresses (the failover case).
    const client = new pg.Client({ connectionString: c.connectionString() });
    await client.connect();
    try {
      await client.query('BEGIN');
      for (const r of moved) await repoint(client, r.nodeid, `reset-${r.nodeid}`, r.nodeport);
      for (const r of moved) {
        const want = f.baseline.get(r.nodeid)!;
        await repoint(client, r.nodeid, want.nodename, want.nodeport);
      }
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
  }
  await waitFor(
    async () =>
      (
        await c.query<{ s: boolean }>(
          "SELECT bool_and(metadatasynced) AS s FROM pg_dist_node WHERE hasmetadata AND noderole = 'primary'",
        )
      ).rows[0].s,
    { ...WAIT, message: 'the formation is synced' },
  );
  await resetDistributed(f);
  const coordinatorRow = current.rows.find((r) => r.nodeid === f.ids.coordinator);
  if (coordinatorRow !== undefined && coordinatorRow.nodename !== H) {
    await c.query('SELECT citus_set_coordinator_host($1, $2)', [H, f.coordinator.port]);
  }
  for (const r of current.rows) {
    if (!f.baseline.has(r.nodeid)) await c.query('SELECT citus_remove_node($1, $2)', [r.nodename, r.nodeport]);
  }
}

/** No job running, no distributed table, every worker primary taking shards again. */
async function resetDistributed(f: Formation): Promise<void> {
  const c = f.coordinator;
  const open = "SELECT job_id FROM pg_dist_background_job WHERE state NOT IN ('finished', 'cancelled', 'failed')";
  for (const job of (await c.query<{ job_id: string }>(open)).rows) {
    await c.query('SELECT citus_job_cancel($1)', [job.job_id]);
  }
  await waitFor(async () => (await c.query(open)).rowCount === 0, { ...WAIT, message: 'every background job ended' });
  const tables = await c.query<{ t: string }>('SELECT logicalrelid::text AS t FROM pg_dist_partition');
  for (const { t } of tables.rows) await c.query(`DROP TABLE IF EXISTS ${t} CASCADE`);
  const drained = await c.query<{ nodename: string; nodeport: number }>(
    "SELECT nodename, nodeport FROM pg_dist_node WHERE noderole = 'primary' AND groupid > 0 AND NOT shouldhaveshards",
  );
  for (const n of drained.rows) {
    await c.query("SELECT citus_set_node_property($1, $2, 'shouldhaveshards', true)", [n.nodename, n.nodeport]);
  }
}

// ---------------------------------------------------------------------------------------------

const realCitus = citusInstalled(resolvePgBinDir(), '15');
const modes: { mode: Mode; skip: string | false }[] = [
  { mode: 'stand-in', skip: false },
  { mode: 'citus', skip: realCitus ? false : 'Citus is not installed with PostgreSQL 15 on this machine' },
];

for (const { mode, skip } of modes) {
  describe(`conformance with citus-facts.md: ${mode}`, { skip }, () => {
    let f: Formation;
    let sync: StandInSync | undefined;
    const clients: pg.Client[] = [];

    before(async () => {
      f = await formation(mode);
      if (mode === 'citus') {
        const available = await f.coordinator.query("SELECT 1 FROM pg_available_extensions WHERE name = 'citus'");
        assert.equal(available.rowCount, 1, 'citus is in pg_available_extensions');
      } else {
        // Citus's maintenance daemon, for the stand-in; retries every second to keep the suite quick.
        sync = startStandInSync({
          host: H,
          port: f.coordinator.port,
          user: 'postgres',
          database: 'postgres',
          retryMs: 1000,
        });
      }
    });

    after(async () => {
      await sync?.stop();
    });

    beforeEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
      await reset(f);
    });

    const ctx: Ctx = {
      get f() {
        return f;
      },
      async connect(server?: PgServer) {
        const client = new pg.Client({ connectionString: (server ?? f.coordinator).connectionString() });
        client.on('error', () => undefined);
        await client.connect();
        clients.push(client);
        return client;
      },
    };

    for (const c of CASES) {
      test(c.name, { skip: c.skip?.[mode] ?? false }, async () => {
        await c.setup?.(ctx);
        const expected = typeof c.expect === 'function' ? c.expect(f) : c.expect;
        const got = await outcome(c.call(ctx));
        if ('error' in expected) {
          const failed = typeof got === 'object' && got !== null && 'sqlstate' in got;
          assert.ok(failed, `expected ${JSON.stringify(expected.error)}, got ${JSON.stringify(got)}`);
          assert.ok(
            matches(got, expected.error),
            `expected ${String(expected.error.sqlstate)} ${String(expected.error.message)}, got ${JSON.stringify(got)}`,
          );
        } else {
          const value = got instanceof Object && 'rows' in got && 'command' in got ? 'query result' : got;
          const wanted = JSON.stringify(expected.rows, replacer);
          assert.ok(matches(value, expected.rows), `expected ${wanted}, got ${JSON.stringify(value)}`);
        }
      });
    }
  });
}

function replacer(_key: string, value: unknown): unknown {
  return value instanceof RegExp ? value.toString() : value;
}
