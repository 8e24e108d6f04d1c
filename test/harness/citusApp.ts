// The application of the Citus tests and benchmarks: a table t of bigint ids written into one worker
// group through the coordinator, on the Citus stand-in (routed_write) and on real Citus (a distributed table).

import pg from 'pg';
import { errorText } from '../../src/errors.ts';
import { onCleanup } from './cleanup.ts';
import type { TestMember } from './cluster.ts';
import { CITUS_DATABASE, CLUSTER_PASSWORDS } from './memberConfig.ts';

/** What the coordinator runs: the SQL stand-in (schema citus_compat) or the citus extension. */
export type CitusKind = 'stand-in' | 'citus';

/** How a node's application database is reached, as pg takes it. */
export type NodeAddress = pg.ClientConfig;

/** How the application reaches a cluster member's citus database. */
export function memberAddress(member: TestMember): NodeAddress {
  const { superuser } = CLUSTER_PASSWORDS;
  return { host: '127.0.0.1', port: member.pgPort, user: 'postgres', password: superuser, database: CITUS_DATABASE };
}

/** Candidate keys tried per look-up of ids that land in a group's shards (real Citus only). */
const ID_BATCH = 20_000;

async function queryOnce<R extends pg.QueryResultRow>(
  node: NodeAddress,
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  // A frozen server must fail the caller, not hang it.
  const client = new pg.Client({ connectionTimeoutMillis: 3000, query_timeout: 60_000, ...node });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Asks the coordinator which Citus it runs; throws while it has neither (the agent has not installed it yet). */
export async function detectCitus(coordinator: NodeAddress): Promise<CitusKind> {
  const [row] = await queryOnce<{ stand_in: boolean; citus: boolean }>(
    coordinator,
    `SELECT to_regnamespace('citus_compat') IS NOT NULL AS stand_in,
            EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') AS citus`,
  );
  if (row?.stand_in) return 'stand-in';
  if (row?.citus) return 'citus';
  throw new Error('the coordinator has neither the Citus stand-in nor the citus extension');
}

/**
 * What the application knows of its table t: which Citus the coordinator runs and which ids land in
 * which worker group. Shared by every connection that writes, so that no two writes take one id.
 *
 * The real-Citus path (which the stand-in suite never runs; kept small on purpose) assumes: the agents
 * created the citus extension on every node and registered each worker group's primary before setup;
 * t keeps its default shards, one placement each, where create_distributed_table put them for the whole
 * run (no rebalance), so an id always lands in the same group; a worker answers a query on a shard table
 * by its name (shard_name() from the coordinator's metadata).
 */
export class CitusApp {
  /** Stand-in: one counter for all groups (each group's t is its own table). */
  private nextStandInId = 1;
  /** Real Citus, per group: ids found in its shards and not handed out yet, and the next key to try. */
  private readonly found = new Map<number, { ids: number[]; scanFrom: number }>();

  private constructor(
    readonly kind: CitusKind,
    private readonly coordinator: NodeAddress,
  ) {}

  static async detect(coordinator: NodeAddress): Promise<CitusApp> {
    return new CitusApp(await detectCitus(coordinator), coordinator);
  }

  /**
   * Creates t so that writes to `group` land. Stand-in: a plain table on each of `nodes` (the servers
   * the group's writes may reach: its primary, whose replicas get it by streaming). Real Citus: once,
   * a distributed table on the coordinator; `nodes` are not needed (Citus placed the shards).
   */
  async setup(group: number, nodes: readonly NodeAddress[]): Promise<void> {
    if (this.kind === 'stand-in') {
      for (const node of nodes) await queryOnce(node, 'create table t (id bigint primary key)');
      return;
    }
    await queryOnce(this.coordinator, 'CREATE TABLE IF NOT EXISTS t (id bigint PRIMARY KEY)');
    await queryOnce(
      this.coordinator,
      `SELECT create_distributed_table('t', 'id')
        WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = 't'::regclass)`,
    );
    if (!this.found.has(group)) this.found.set(group, { ids: [], scanFrom: 1 });
    await this.refill(group);
  }

  /** The id of the application's next row in `group`. */
  async nextId(group: number): Promise<number> {
    if (this.kind === 'stand-in') return this.nextStandInId++;
    const state = this.found.get(group);
    if (state === undefined) throw new Error(`setup(${group}) was not called`);
    while (state.ids.length === 0) await this.refill(group);
    return state.ids.shift()!;
  }

  /** Writes row `id` (from nextId(group)) through the coordinator connection `client`. */
  async write(client: pg.ClientBase, group: number, id: number): Promise<void> {
    if (!Number.isInteger(group) || !Number.isInteger(id)) throw new Error(`write: group ${group}, id ${id}`);
    if (this.kind === 'stand-in') {
      await client.query(`select citus_compat.routed_write(${group}, $1)`, [`insert into t values (${id})`]);
    } else {
      await client.query('INSERT INTO t VALUES ($1)', [id]);
    }
  }

  /** The ids of `group`'s rows that `node` (the member taken for the group's primary) holds now, ascending. */
  async rowsOn(group: number, node: NodeAddress): Promise<number[]> {
    let sql = 'select id from t';
    if (this.kind === 'citus') {
      const shards = await queryOnce<{ name: string }>(
        this.coordinator,
        `SELECT shard_name('t'::regclass, s.shardid) AS name
           FROM pg_catalog.pg_dist_shard s JOIN pg_catalog.pg_dist_placement p USING (shardid)
          WHERE s.logicalrelid = 't'::regclass AND p.groupid = $1`,
        [group],
      );
      if (shards.length === 0) return [];
      sql = shards.map((s) => `SELECT id FROM ${s.name}`).join(' UNION ALL ');
    }
    const rows = await queryOnce<{ id: string }>(node, sql);
    return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
  }

  /** Adds the next batch of keys whose shard is placed on `group` (the coordinator's metadata). */
  private async refill(group: number): Promise<void> {
    const state = this.found.get(group)!;
    const from = state.scanFrom;
    state.scanFrom += ID_BATCH;
    const rows = await queryOnce<{ id: string }>(
      this.coordinator,
      `SELECT k AS id FROM generate_series($1::bigint, $2::bigint) AS k
        WHERE get_shard_id_for_distribution_column('t', k) IN (
          SELECT p.shardid FROM pg_catalog.pg_dist_placement p JOIN pg_catalog.pg_dist_shard s USING (shardid)
           WHERE s.logicalrelid = 't'::regclass AND p.groupid = $3)
        ORDER BY k`,
      [from, from + ID_BATCH - 1, group],
    );
    state.ids.push(...rows.map((r) => Number(r.id)));
  }
}

/**
 * The application at work: writes the next id of one group after the other on its own coordinator
 * connection, recording every acknowledged id, every error and how long each write took.
 */
export class RoutedWriter {
  readonly acked: number[] = [];
  /** [start, end] of each acknowledged write, in the order of `acked`. */
  readonly ackedSpans: Array<[number, number]> = [];
  readonly errors: string[] = [];
  /** [start, end] of every write, performance.now() ms. */
  readonly spans: Array<[number, number]> = [];
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  private constructor(
    private readonly app: CitusApp,
    private readonly client: pg.Client,
    private readonly group: number,
    private readonly intervalMs: number,
  ) {}

  /** `intervalMs` paces the writes (one started every so often); without it they follow one another. */
  static async connect(
    app: CitusApp,
    coordinator: NodeAddress,
    opts: { group: number; applicationName: string; intervalMs?: number },
  ): Promise<RoutedWriter> {
    const client = new pg.Client({ ...coordinator, application_name: opts.applicationName });
    client.on('error', () => {});
    await client.connect();
    onCleanup('close the application connection', () => client.end().catch(() => {}));
    return new RoutedWriter(app, client, opts.group, opts.intervalMs ?? 0);
  }

  start(): void {
    this.stopped = false;
    this.done = (async () => {
      while (!this.stopped) {
        let id: number;
        try {
          id = await this.app.nextId(this.group);
        } catch (err) {
          // Only real Citus looks ids up (on the coordinator); a failed look-up is an error like a write's.
          this.errors.push(`next id: ${errorText(err)}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
          continue;
        }
        const started = performance.now();
        try {
          await this.app.write(this.client, this.group, id);
          const span: [number, number] = [started, performance.now()];
          this.acked.push(id);
          this.ackedSpans.push(span);
          this.spans.push(span);
        } catch (err) {
          this.errors.push(`${id}: ${errorText(err)}`);
          this.spans.push([started, performance.now()]);
          // A dead connection fails at once: do not spin on it.
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const rest = started + this.intervalMs - performance.now();
        if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Stops writing and closes the connection (the harness would close it at cleanup otherwise). */
  async close(): Promise<void> {
    await this.stop();
    await this.client.end().catch(() => {});
  }

  /** Longest write of the whole run. */
  longest(): number {
    return this.longestWait(0, Number.POSITIVE_INFINITY);
  }

  /** Longest write that overlapped [from, to]. */
  longestWait(from: number, to: number): number {
    // A loop, not Math.max(...spans): a long benchmark records more writes than a call takes arguments.
    let longest = 0;
    for (const [s, e] of this.spans) if (e >= from && s <= to) longest = Math.max(longest, e - s);
    return longest;
  }
}
