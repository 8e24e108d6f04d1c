// One reconcile attempt (docs/design.md, "Metadata in two phases"): the coordinator's rows, cached
// between attempts, planned against etcd's view; phase 1's repoints and poolinfo fixes, then
// phase 2's adds and removes while Citus can run them. The loop that runs attempts is manager.ts.
import type pg from 'pg';
import type { ClusterView } from '../dcs/types.ts';
import { PostgresError, errorText } from '../errors.ts';
import type { Logger } from '../log.ts';
import { applyChange } from './applyChange.ts';
import { membershipBlocker } from './gate.ts';
import { desiredWithHeld, holdGroups } from './hold.ts';
import { PlanStatementError, readMetadata, type MetadataRows } from './metadataStore.ts';
import { metadataViewOf, type MetadataView } from './metadataView.ts';
import type { CitusObserver } from './observer.ts';
import { planMetadata, type PlanOptions } from './plan.ts';
import type { IgnoredMember, Statement } from './types.ts';

/** One reconcile attempt: applied (possibly nothing) or failed and rolled back. */
export type ReconcileResult =
  | {
      kind: 'applied';
      /** The statements committed; empty when the metadata was already right. */
      statements: Statement[];
      /** Why adds and removes still wait (retried with backoff); null when none are left. */
      waiting: string | null;
      /** etcd revision of the view the plan was made from. */
      revision: string;
      durationMs: number;
    }
  | {
      kind: 'failed';
      error: Error;
      /** Statements in the plan, and which one failed, counted over the whole plan (null: not a statement). */
      planned: number;
      failedAt: number | null;
      revision: string | null;
      durationMs: number;
    };

/** The attempts' counters and last outcome. */
export interface ReconcileStats {
  /** Successful reconciles (including those with nothing to do). */
  reconciles: number;
  /** Failed attempts (each retry counts). */
  failures: number;
  statementsApplied: number;
  lastResult: ReconcileResult | null;
  lastError: string | null;
}

export interface ReconcilerOptions {
  /** Opens a dedicated connection to the local coordinator's `citus.database`, as a superuser. */
  connect: () => Promise<pg.Client>;
  logger: Logger;
  planOptions: PlanOptions;
  /** The clock that stamps the metadata view (milliseconds since the epoch). */
  now: () => number;
  /** etcd's view to reconcile to; a failure to get it fails the attempt. */
  view: () => Promise<ClusterView>;
  /** Groups with a pause open: planned exactly as their rows are, and adds and removes wait for them. */
  pausedGroups: () => ReadonlySet<number>;
  /** Groups whose removal owns their rows (scale.ts): planned exactly as their rows are. */
  removalHeld: (view: ClusterView) => ReadonlySet<number>;
  /** A worker group's primary row was repointed and committed. */
  repointed: (group: number) => void;
  /** Why adds and removes wait (null: they do not), after every attempt that got to them. */
  membershipWaits: (waiting: string | null) => void;
  /** Told of each attempt's outcome and duration (metrics). */
  observer?: CitusObserver;
}

export class Reconciler {
  private client: pg.Client | null = null;
  /** Rows as of the last successful reconcile; null forces a read (at start, after errors). */
  private rows: MetadataRows | null = null;
  /** The rows last read or committed, kept when the cache is dropped: what GET /citus shows. */
  private lastSeen: MetadataView | null = null;
  /**
   * The desired topology (JSON) the cached rows were made to match. Member keys are rewritten
   * every loop_wait with new WAL positions; while the topology they describe stays the same,
   * planning (quadratic-ish in groups) is skipped.
   */
  private settled: string | null = null;
  /** A pause committed or rolled back behind the cached rows: read them again next attempt. */
  private rowsStale = false;
  private lastIgnored = '[]';
  private counters = { reconciles: 0, failures: 0, statementsApplied: 0 };
  private lastResult: ReconcileResult | null = null;
  private lastError: string | null = null;
  /** The last failure logged at warn, so repeats are not. */
  private lastLoggedFailure: string | null = null;

  constructor(private readonly opts: ReconcilerOptions) {}

  /** The rows changed behind the cache (a pause ended): the next attempt reads them again. */
  rowsChanged(): void {
    this.rowsStale = true;
  }

  /** pg_dist_node and pg_dist_poolinfo as last read or committed; null before the first read. */
  metadataView(): MetadataView | null {
    return this.lastSeen;
  }

  stats(): ReconcileStats {
    return { ...this.counters, lastResult: this.lastResult, lastError: this.lastError };
  }

  /** Closes the connection to the coordinator; the next attempt opens a new one. */
  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  /** One attempt, without retries: applied, or failed and rolled back (never throws). */
  async attempt(): Promise<ReconcileResult> {
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;
    let planned = 0;
    let done = 0;
    let revision: string | null = null;
    const applied: Statement[] = [];
    try {
      if (this.rowsStale) {
        this.rowsStale = false;
        this.rows = null;
        this.settled = null;
      }
      const view = await this.opts.view();
      revision = view.revision;
      const client = await this.connection();
      this.rows ??= this.remember(await readMetadata(client));
      // The gate judges the workers by etcd's view; a removal's hold only keeps the plan off its rows.
      const gateDesired = desiredWithHeld(view, this.rows, this.opts.pausedGroups());
      const desired = holdGroups(gateDesired, this.rows, this.opts.removalHeld(view));
      this.logIgnored(desired.ignored);
      const wanted = JSON.stringify(desired.groups);
      // Planning is skipped while the topology is the one the cached rows were made to match.
      const plan =
        wanted === this.settled
          ? { local: [], membership: [] }
          : planMetadata(desired, this.rows.nodes, this.rows.poolinfo, this.opts.planOptions);
      planned =
        plan.local.reduce((n, c) => n + c.statements.length, 0) +
        plan.membership.reduce((n, c) => n + c.statements.length, 0);
      // Phase 1: repoints and poolinfo, one transaction each; they contact no other node.
      for (const [i, change] of plan.local.entries()) {
        const last = i === plan.local.length - 1;
        const rows = await applyChange(client, change, { done, planned }, last, this.opts.logger);
        this.rows = this.remember(rows) ?? this.rows;
        done += change.statements.length;
        applied.push(...change.statements);
        if (change.kind === 'repoint' && change.group !== null && change.group > 0) this.opts.repointed(change.group);
      }
      // Phase 2: adds and removes, only while Citus can run them; never holds phase 1 up.
      let waiting: string | null = null;
      if (plan.membership.length > 0) {
        const paused = [...this.opts.pausedGroups()].sort((a, b) => a - b);
        waiting = membershipBlocker(this.rows.nodes, gateDesired, paused);
        if (waiting === null) {
          for (const [i, change] of plan.membership.entries()) {
            try {
              const last = i === plan.membership.length - 1;
              const rows = await applyChange(client, change, { done, planned }, last, this.opts.logger);
              this.rows = this.remember(rows) ?? this.rows;
            } catch (err) {
              waiting = `Citus refused: ${errorText(err instanceof PlanStatementError ? err.cause : err)}`;
              // The statement may have failed because the connection broke: start afresh.
              await this.close();
              break;
            }
            done += change.statements.length;
            applied.push(...change.statements);
          }
        }
      }
      this.opts.membershipWaits(waiting);
      // Flags change behind our back (Citus's sync): a waiting phase 2 reads the rows again.
      if (waiting !== null) this.rows = null;
      this.settled = waiting === null ? wanted : null;
      const result: ReconcileResult = {
        kind: 'applied',
        statements: applied,
        waiting,
        revision,
        durationMs: elapsed(),
      };
      this.counters.reconciles++;
      this.opts.observer?.reconciled(true, result.durationMs);
      this.counters.statementsApplied += applied.length;
      this.lastResult = result;
      this.lastError = null;
      this.lastLoggedFailure = null;
      if (applied.length > 0) {
        this.opts.logger.info(
          { action: 'reconcile', statements: applied.length, revision, duration_ms: result.durationMs },
          'pg_dist_node reconciled',
        );
      }
      return result;
    } catch (err) {
      // The cache may be what made the plan wrong (someone else changed the rows): read again.
      this.rows = null;
      this.settled = null;
      const error = err instanceof Error ? err : new Error(String(err));
      // A statement may also have failed because the connection broke; a new one is cheap
      // and certain, and it cannot inherit a transaction left open.
      await this.close();
      const failedAt = err instanceof PlanStatementError ? done + err.index : null;
      const result: ReconcileResult = { kind: 'failed', error, planned, failedAt, revision, durationMs: elapsed() };
      this.counters.failures++;
      this.opts.observer?.reconciled(false, result.durationMs);
      this.counters.statementsApplied += applied.length;
      this.lastResult = result;
      this.lastError = error.message;
      // Once per change of reason: a failure that repeats on every retry says nothing new.
      const level = error.message === this.lastLoggedFailure ? 'debug' : 'warn';
      this.lastLoggedFailure = error.message;
      this.opts.logger[level](
        { action: 'reconcile', err: error.message, planned, failedAt, revision },
        'reconcile failed; rolled back',
      );
      return result;
    }
  }

  /** Keeps a copy of rows just read or committed for metadataView(); returns them unchanged. */
  private remember<T extends MetadataRows | null>(rows: T): T {
    if (rows !== null) this.lastSeen = metadataViewOf(rows, this.opts.now());
    return rows;
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    let client: pg.Client;
    try {
      client = await this.opts.connect();
    } catch (err) {
      throw new PostgresError('connect to the coordinator', errorText(err), { cause: err });
    }
    // An idle connection that dies emits 'error'; unhandled, that would end the process.
    client.on('error', (err) => {
      this.opts.logger.warn({ action: 'connection', err: err.message }, 'coordinator connection lost');
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
    });
    this.client = client;
    return client;
  }

  /** Logs the members left out of the desired topology, once per change of the list. */
  private logIgnored(ignored: IgnoredMember[]): void {
    const text = JSON.stringify(ignored);
    if (text === this.lastIgnored) return;
    this.lastIgnored = text;
    for (const i of ignored)
      this.opts.logger.warn(
        { action: 'citus-ignore', group: i.group, member: i.member, reason: i.reason },
        'member left out of pg_dist_node',
      );
  }
}
