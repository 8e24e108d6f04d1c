// One pause's transaction on the coordinator (docs/design.md, "Pause protocol"): it holds the
// group's locks so writes routed to the group wait, then commits the group's repoint, or is
// abandoned. Works over a narrow connection interface, so a fake can stand in for it in tests.
import type { ClusterView } from '../dcs/types.ts';
import type { Logger } from '../log.ts';
import { planWithHeld } from './hold.ts';
import { readMetadata, runStatements, type MetadataRows, type Queryable } from './metadataStore.ts';
import type { PlanOptions } from './plan.ts';
import type { DesiredNode, Statement } from './types.ts';
import { errorText } from '../errors.ts';

/** What a pause needs of its connection to the coordinator's Citus database. */
export interface PauseConnection extends Queryable {
  end(): Promise<void>;
}

/** Old Citus has no citus_pause_node_within_txn; the pause then renames the row to this suffix. */
export const DEMOTED_SUFFIX = '-demoted';
/** A ROLLBACK on an idle connection answers in milliseconds; longer means the link is stuck. */
const ROLLBACK_GRACE_MS = 300;

export interface PauseTxnOptions {
  group: number;
  /** Opens a new connection; also used for a second one that ends a stuck backend. */
  connect: () => Promise<PauseConnection>;
  timeoutMs: number;
  cooldownMs: number;
  planOptions: PlanOptions;
  logger: Logger;
  /** Called before each statement of the repoint, for the log. */
  onStatement?: (statement: Statement, index: number, of: number) => void;
}

export type HoldResult = { held: true; nodeid: number; method: 'pause' | 'rename' } | { held: false; reason: string };

export interface CommitResult {
  target: DesiredNode;
  statements: number;
  /** Whether the primary row moved to another node (then prepared transactions need recovery). */
  moved: boolean;
}

export class PauseTransaction {
  private conn: PauseConnection | null = null;
  private pid: number | null = null;
  private inFlight = 0;
  private abandoned = false;
  /** Where the primary row pointed before the pause, and how the locks are held. */
  private row: { nodeid: number; host: string; port: number } | null = null;
  private method: 'pause' | 'rename' | null = null;

  constructor(private readonly opts: PauseTxnOptions) {}

  /**
   * BEGIN, bound the waits, take the group's locks: Citus 12.1+'s citus_pause_node_within_txn,
   * which renames nothing and unsyncs nothing, else the rename to '<host>-demoted'. Throws when
   * a statement fails; answers `held: false` when there is nothing to hold or it was abandoned.
   */
  async hold(): Promise<HoldResult> {
    const conn = await this.opts.connect();
    if (this.abandoned) {
      await conn.end().catch(() => undefined);
      return { held: false, reason: 'the pause ended while connecting' };
    }
    this.conn = conn;
    const group = this.opts.group;
    this.pid = Number((await this.query('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0].pid);
    await this.query('BEGIN');
    // lock_timeout bounds the wait for the locks; a server-side idle limit ends the transaction
    // even if this process freezes and its timer never fires.
    await this.query(
      `SELECT pg_catalog.set_config('lock_timeout', $1, true), pg_catalog.set_config('statement_timeout', '0', true),
              pg_catalog.set_config('idle_in_transaction_session_timeout', $2, true)`,
      [String(this.opts.timeoutMs), String(this.opts.timeoutMs + 1000)],
    );
    const found = await this.query(
      `SELECT nodeid, nodename, nodeport,
              pg_catalog.to_regprocedure('pg_catalog.citus_pause_node_within_txn(integer,boolean,integer)')
                IS NOT NULL AS can_pause
         FROM pg_catalog.pg_dist_node
        WHERE groupid = $1 AND noderole = 'primary' AND nodecluster = 'default' ORDER BY nodeid LIMIT 1`,
      [group],
    );
    const r = found.rows[0];
    if (r === undefined) return { held: false, reason: `group ${group} has no primary row in pg_dist_node` };
    const row = { nodeid: Number(r.nodeid), host: String(r.nodename), port: Number(r.nodeport) };
    this.row = row;
    this.method = r.can_pause === true ? 'pause' : 'rename';
    if (this.method === 'pause') {
      await this.query('SELECT pg_catalog.citus_pause_node_within_txn($1, true, $2)', [
        row.nodeid,
        this.opts.cooldownMs,
      ]);
    } else {
      await this.query('SELECT pg_catalog.citus_update_node($1, $2, $3, true, $4)', [
        row.nodeid,
        row.host + DEMOTED_SUFFIX,
        row.port,
        this.opts.cooldownMs,
      ]);
    }
    if (this.abandoned) return { held: false, reason: 'the pause ended while taking its locks' };
    return { held: true, nodeid: row.nodeid, method: this.method };
  }

  /**
   * Repoints the group to the primary the view shows, in this transaction, and commits. Only the
   * group's repoint runs here: adds and removes contact every metadata worker and need them
   * synced, which a pause cannot promise, so the reconcile does them once the pause is over; the
   * prepared transactions the old primary left are the caller's to recover, after the commit.
   */
  async commitRepoint(view: ClusterView): Promise<CommitResult> {
    const group = this.opts.group;
    const rows = await readMetadata(this);
    const others = new Set(
      [...rows.nodes.map((r) => r.groupid), ...view.groups.map((g) => g.group ?? -1)].filter((g) => g !== group),
    );
    const probe = planWithHeld(view, rows, others, this.opts.planOptions);
    const target = probe.desired.groups.find((g) => g.group === group)?.primary;
    if (target?.kind !== 'node') throw new Error(`etcd shows no running primary for group ${group}`);
    // After the rename, plan from the address before the pause: a promoted secondary is then a
    // swap of addresses, as in any reconcile. Back on the same node, plan from the rename.
    const plan =
      this.method === 'rename'
        ? planWithHeld(view, beforeRename(rows, this.row, target.node), others, this.opts.planOptions)
        : probe;
    const statements = plan.plan.local
      .filter((c) => c.kind === 'repoint' && c.group === group)
      .flatMap((c) => c.statements);
    await runStatements(this, statements, (s, i) => this.opts.onStatement?.(s, i, statements.length));
    // Committing the temporary name would send every write to a host that does not exist.
    const after = await readMetadata(this);
    const primary = after.nodes.find(
      (r) => r.groupid === group && r.noderole === 'primary' && r.nodecluster === 'default',
    );
    if (primary === undefined || primary.nodename !== target.node.host || primary.nodeport !== target.node.port) {
      throw new Error(`the plan did not move the primary row to ${target.node.host}:${target.node.port}`);
    }
    if (this.abandoned) throw new Error('the pause is being rolled back');
    await this.query('COMMIT');
    const moved = this.row !== null && (this.row.host !== target.node.host || this.row.port !== target.node.port);
    return { target: target.node, statements: statements.length, moved };
  }

  /** ROLLBACK when the connection is idle; when a statement runs (or ROLLBACK hangs), end the backend. */
  async abandon(): Promise<void> {
    this.abandoned = true;
    const conn = this.conn;
    if (conn === null) return;
    let done = false;
    if (this.inFlight === 0) {
      done = await withTimeout(
        conn.query('ROLLBACK').then(
          () => true,
          () => false,
        ),
        ROLLBACK_GRACE_MS,
        false,
      );
    }
    if (!done && this.pid !== null) await this.terminate(this.pid);
    await this.close();
  }

  /** Closes the connection (after a commit, or once abandoned). */
  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    if (conn !== null)
      await withTimeout(
        conn.end().catch(() => undefined),
        ROLLBACK_GRACE_MS,
        undefined,
      );
  }

  /** Statements on the pause's connection, counted while in flight. */
  async query(text: string, values?: unknown[]): ReturnType<Queryable['query']> {
    const conn = this.conn;
    if (conn === null) throw new Error('no connection');
    this.inFlight++;
    try {
      return await conn.query(text, values);
    } finally {
      this.inFlight--;
    }
  }

  /** Ends a backend from a second connection: its transaction is rolled back and its locks freed. */
  private async terminate(pid: number): Promise<void> {
    let side: PauseConnection | null = null;
    try {
      side = await this.opts.connect();
      // With a timeout, the call returns once the backend is gone (PostgreSQL 14+).
      await side.query('SELECT pg_catalog.pg_terminate_backend($1::int, 1000)', [pid]);
    } catch (err) {
      // The backend still ends at idle_in_transaction_session_timeout.
      this.opts.logger.error(
        { action: 'pause-terminate', group: this.opts.group, pid, err: errorText(err) },
        'could not end the pause backend',
      );
    } finally {
      await side?.end().catch(() => undefined);
    }
  }
}

/** The rows with the paused primary row back at its address from before the rename. */
function beforeRename(
  rows: MetadataRows,
  row: { nodeid: number; host: string; port: number } | null,
  target: { host: string; port: number },
): MetadataRows {
  if (row === null || (row.host === target.host && row.port === target.port)) return rows;
  return {
    ...rows,
    nodes: rows.nodes.map((r) => (r.nodeid === row.nodeid ? { ...r, nodename: row.host, nodeport: row.port } : r)),
  };
}

/** The promise's value, or `fallback` when it fails or has not settled within `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise<T>((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}
