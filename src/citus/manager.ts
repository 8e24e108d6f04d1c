// The Citus manager: keeps the coordinator's pg_dist_node and pg_dist_poolinfo equal to what etcd
// says about every group, reconciling on each leader or member event (docs/design.md, "Citus
// manager").
import type pg from 'pg';
import pRetry from 'p-retry';
import type { DcsWatch, WatchListener } from '../dcs/watch.ts';
import type { ClusterView, DcsEvent } from '../dcs/types.ts';
import { PostgresError, errorText } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Serial } from '../serial.ts';
import { desiredWithHeld } from './hold.ts';
import { LiveView, isTopologyEvent } from './liveView.ts';
import {
  applyPlan,
  PlanStatementError,
  readMetadata,
  recoverPreparedTransactions,
  type MetadataRows,
} from './metadataStore.ts';
import { refuse } from './pauseRules.ts';
import { WorkerWatch, type FailureOptions } from './workerWatch.ts';
import {
  GroupPauses,
  type PauseAnswer,
  type PauseEvent,
  type PauseStats,
  type UnplannedPauseSettings,
} from './pause.ts';
import { membershipBlocker } from './gate.ts';
import { metadataViewOf, type MetadataView } from './metadataView.ts';
import { DEFAULT_PLAN_OPTIONS, planMetadata, SQL, type Change, type PlanOptions } from './plan.ts';
import { probePooler } from './poolerProbe.ts';
import type { Statement } from './types.ts';

/** What the manager needs from the etcd layer (class Dcs provides it). */
export interface TopologySource {
  loadCluster(options: { allGroups?: boolean }): Promise<ClusterView>;
  watch(fromRevision: string, onEvents: WatchListener): DcsWatch;
}

export interface CitusManagerOptions {
  dcs: TopologySource;
  /** Opens a dedicated connection to the local coordinator's `citus.database`, as a superuser. */
  connect: () => Promise<pg.Client>;
  logger: Logger;
  /** Seconds one reconcile may keep retrying (the HA `retry_timeout`). */
  retryTimeout: number;
  planOptions?: PlanOptions;
  /** The pause protocol (pause.ts): settings of pauses opened by a vanished worker leader key. */
  pause?: { unplanned?: UnplannedPauseSettings; viewWaitMs?: number };
  /** The coordinator's own probes of every worker primary (docs/design.md, "Worker failure"). */
  failure?: FailureOptions;
  /** The clock that stamps the metadata view (milliseconds since the epoch); Date.now by default. */
  now?: () => number;
}

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

/** Counters and last outcomes, for tests, logs and metrics. */
export interface CitusManagerStats {
  running: boolean;
  /** Successful reconciles (including those with nothing to do). */
  reconciles: number;
  /** Failed attempts (each retry counts). */
  failures: number;
  statementsApplied: number;
  lastDurationMs: number | null;
  lastResult: ReconcileResult | null;
  lastError: string | null;
  viewRevision: string | null;
}

type Phase = 'idle' | 'running' | 'stopping' | 'stopped';

const MIN_BACKOFF_MS = 50;
/** Bound of one recover_prepared_transactions(): Citus retries on its own every minute anyway. */
const RECOVERY_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 2000;
/** Phase 2's retries: first soon after a repoint (Citus syncs in ~0.1 s), at most Citus's 5 s retry. */
const MEMBERSHIP_MIN_BACKOFF_MS = 100;
const MEMBERSHIP_MAX_BACKOFF_MS = 5000;

export class CitusManager {
  private readonly dcs: TopologySource;
  private readonly connectFn: () => Promise<pg.Client>;
  private readonly logger: Logger;
  private readonly retryTimeoutMs: number;
  private readonly planOptions: PlanOptions;
  private readonly pauses: GroupPauses;
  /** The coordinator's own probes of the worker primaries, when configured. */
  private readonly workers: WorkerWatch | null = null;
  private readonly now: () => number;

  private phase: Phase = 'idle';
  private live: LiveView | null = null;
  private watchHandle: DcsWatch | null = null;
  /** Watch events not yet applied to the view, in arrival order. */
  private pending: DcsEvent[] = [];
  private reloadWanted = false;
  private client: pg.Client | null = null;
  /** Rows as of the last successful reconcile; null forces a read (at start, after errors). */
  private rows: MetadataRows | null = null;
  /** The rows last read or committed, kept when the cache is dropped: what GET /citus shows. */
  private lastSeen: MetadataView | null = null;
  /** Attempts run one at a time: the loop and reconcileNow() queue here. */
  private readonly attempts = new Serial();
  private loop: Promise<void> | null = null;
  private dirty = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  private lastIgnored = '[]';
  /**
   * The desired topology (JSON) the cached rows were made to match. Member keys are rewritten
   * every loop_wait with new WAL positions; while the topology they describe stays the same,
   * planning (quadratic-ish in groups) is skipped.
   */
  private settled: string | null = null;
  /** A pause committed or rolled back behind the cached rows: read them again next attempt. */
  private rowsStale = false;
  private counters = { reconciles: 0, failures: 0, statementsApplied: 0 };
  private lastResult: ReconcileResult | null = null;
  private lastError: string | null = null;
  /** The last reconcile failure logged at warn (and given up on at error), so repeats are not. */
  private lastLoggedFailure: string | null = null;
  private lastGivenUp: string | null = null;
  /** Why adds and removes wait (null: they do not), as last logged. */
  private membershipWaiting: string | null = null;
  private membershipAttempts = 0;
  private membershipTimer: NodeJS.Timeout | null = null;

  constructor(options: CitusManagerOptions) {
    this.dcs = options.dcs;
    this.connectFn = options.connect;
    this.logger = options.logger.child({ component: 'citus-manager' });
    this.retryTimeoutMs = options.retryTimeout * 1000;
    this.planOptions = options.planOptions ?? DEFAULT_PLAN_OPTIONS;
    this.now = options.now ?? Date.now;
    // Paused groups run on their own connections; the reconcile plans them exactly as they are.
    this.pauses = new GroupPauses({
      connect: this.connectFn,
      view: () => this.peekView(),
      logger: options.logger,
      planOptions: this.planOptions,
      metadataChanged: () => {
        this.rowsStale = true;
        this.kick();
      },
      repointed: (group) => this.recoverPrepared(group),
      unplanned: options.pause?.unplanned,
      viewWaitMs: options.pause?.viewWaitMs,
    });
    if (options.failure !== undefined) {
      this.workers = new WorkerWatch({
        ...options.failure,
        rows: () => (this.phase === 'running' ? this.metadataView() : null),
        view: () => this.live?.view ?? null,
        pauses: this.pauses,
        logger: this.logger,
      });
    }
  }

  /**
   * The coordinator side of a worker's `POST /citus` (docs/design.md, "Pause protocol"):
   * before_demote answers once writes to the group are paused, after_promote once the group
   * points at its new primary. Refused (unavailable) while the manager is not running.
   */
  handleEvent(event: PauseEvent): Promise<PauseAnswer> {
    if (this.phase !== 'running') {
      return Promise.resolve(refuse('unavailable', `the Citus manager is ${this.phase}`));
    }
    return this.pauses.handleEvent(event);
  }

  /** Counters of the pause protocol. */
  pauseStats(): PauseStats {
    return this.pauses.stats();
  }

  /**
   * pg_dist_node and pg_dist_poolinfo as last read or committed by a reconcile (a pause's own
   * commits show after the reconcile that follows it); null before the first read.
   */
  metadataView(): MetadataView | null {
    return this.lastSeen;
  }

  /** Why adds and removes wait, as of the last reconcile that ran; null when none wait. */
  membershipWaitReason(): string | null {
    return this.membershipWaiting;
  }

  stats(): CitusManagerStats {
    return {
      running: this.phase === 'running',
      ...this.counters,
      lastDurationMs: this.lastResult?.durationMs ?? null,
      lastResult: this.lastResult,
      lastError: this.lastError,
      viewRevision: this.live?.revision ?? null,
    };
  }

  /**
   * Loads every group with one range read, reconciles (with retries), then watches from that
   * revision. Resolves once the first reconcile has ended, whether it succeeded or not: a
   * failure is logged and retried later, it does not stop the manager.
   */
  async start(): Promise<void> {
    if (this.phase !== 'idle') throw new Error(`CitusManager.start: already ${this.phase}`);
    this.phase = 'running';
    const view = await this.dcs.loadCluster({ allGroups: true });
    this.live = new LiveView(view);
    this.logger.info({ action: 'start', revision: view.revision, groups: view.groups.length }, 'citus manager started');
    this.watchHandle = this.dcs.watch(view.revision, this.onWatch);
    this.workers?.start();
    this.kick();
    await this.loop;
  }

  /** Closes the watch, waits for a reconcile in flight (its retries are cut short), closes the connection. */
  async stop(): Promise<void> {
    if (this.phase === 'stopped' || this.phase === 'stopping') return;
    this.phase = 'stopping';
    this.watchHandle?.close();
    this.watchHandle = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.membershipTimer) clearTimeout(this.membershipTimer);
    this.membershipTimer = null;
    this.abort.abort(new Error('citus manager stopping'));
    await this.workers?.stop();
    await this.pauses.stop();
    await this.loop?.catch(() => undefined);
    await this.attempts.idle();
    await this.dropClient();
    this.phase = 'stopped';
    this.logger.info({ action: 'stop' }, 'citus manager stopped');
  }

  /**
   * One reconcile attempt now, after any in flight, without retries. Before start() (or
   * without a watch) it reads the view from etcd first.
   */
  reconcileNow(): Promise<ReconcileResult> {
    if (this.phase === 'stopping' || this.phase === 'stopped') {
      return Promise.reject(new Error('CitusManager.reconcileNow: the manager is stopped'));
    }
    return this.attempts.run(() => this.attempt());
  }

  // ---- the event loop -----------------------------------------------------------------

  private readonly onWatch: WatchListener = (events, _revision, signal) => {
    if (this.phase !== 'running') return;
    if (signal === 'resync') {
      this.reloadWanted = true;
      this.pending = [];
    } else {
      const relevant = events.filter(isTopologyEvent);
      if (relevant.length === 0) return;
      this.pending.push(...relevant);
      this.pauses.onEvents(relevant);
    }
    this.kick();
  };

  /** Runs the loop, or marks it dirty when it runs: never two reconciles at once, none lost. */
  private kick(): void {
    if (this.phase !== 'running') return;
    if (this.loop) {
      this.dirty = true;
      return;
    }
    this.loop = this.runLoop().finally(() => {
      this.loop = null;
    });
  }

  private async runLoop(): Promise<void> {
    do {
      this.dirty = false;
      await this.reconcileWithRetry();
    } while (this.dirty && this.phase === 'running');
  }

  private async reconcileWithRetry(): Promise<void> {
    try {
      await pRetry(
        async () => {
          const result = await this.attempts.run(() => this.attempt());
          if (result.kind === 'failed') throw result.error;
        },
        {
          retries: Number.MAX_SAFE_INTEGER,
          minTimeout: MIN_BACKOFF_MS,
          maxTimeout: MAX_BACKOFF_MS,
          factor: 2,
          maxRetryTime: this.retryTimeoutMs,
          signal: this.abort.signal,
          unref: true,
          shouldRetry: () => this.phase === 'running',
        },
      );
    } catch (err) {
      if (this.phase !== 'running') return;
      // Given up for now: try again a retry_timeout later even if etcd stays quiet.
      if (errorText(err) !== this.lastGivenUp) {
        this.logger.error(
          { action: 'reconcile', err: errorText(err), retryInMs: this.retryTimeoutMs },
          'reconcile keeps failing; will try again',
        );
      }
      this.lastGivenUp = errorText(err);
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.kick();
      }, this.retryTimeoutMs);
      this.retryTimer.unref();
    }
  }

  // ---- one attempt --------------------------------------------------------------------

  private async attempt(): Promise<ReconcileResult> {
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
      const view = await this.currentView();
      revision = view.revision;
      const client = await this.connection();
      this.rows ??= this.remember(await readMetadata(client));
      const desired = desiredWithHeld(view, this.rows, this.pauses.openGroups());
      this.logIgnored(desired.ignored);
      const wanted = JSON.stringify(desired.groups);
      // Planning is skipped while the topology is the one the cached rows were made to match.
      const plan =
        wanted === this.settled
          ? { local: [], membership: [] }
          : planMetadata(desired, this.rows.nodes, this.rows.poolinfo, this.planOptions);
      planned =
        plan.local.reduce((n, c) => n + c.statements.length, 0) +
        plan.membership.reduce((n, c) => n + c.statements.length, 0);
      // Phase 1: repoints and poolinfo, one transaction each; they contact no other node.
      for (const [i, change] of plan.local.entries()) {
        const last = i === plan.local.length - 1;
        this.rows = this.remember(await this.applyChange(client, change, done, planned, last)) ?? this.rows;
        done += change.statements.length;
        applied.push(...change.statements);
        if (change.kind === 'repoint' && change.group !== null && change.group > 0) this.recoverPrepared(change.group);
      }
      // Phase 2: adds and removes, only while Citus can run them; never holds phase 1 up.
      let waiting: string | null = null;
      if (plan.membership.length > 0) {
        waiting = membershipBlocker(this.rows.nodes, desired, this.pauses.stats().open);
        if (waiting === null) {
          for (const [i, change] of plan.membership.entries()) {
            try {
              const last = i === plan.membership.length - 1;
              this.rows = this.remember(await this.applyChange(client, change, done, planned, last)) ?? this.rows;
            } catch (err) {
              waiting = `Citus refused: ${errorText(err instanceof PlanStatementError ? err.cause : err)}`;
              // The statement may have failed because the connection broke: start afresh.
              await this.dropClient();
              break;
            }
            done += change.statements.length;
            applied.push(...change.statements);
          }
        }
      }
      this.noteMembership(waiting);
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
      this.counters.statementsApplied += applied.length;
      this.lastResult = result;
      this.lastError = null;
      this.lastLoggedFailure = null;
      this.lastGivenUp = null;
      if (applied.length > 0) {
        this.logger.info(
          { action: 'reconcile', statements: applied.length, revision, durationMs: result.durationMs },
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
      await this.dropClient();
      const failedAt = err instanceof PlanStatementError ? done + err.index : null;
      const result: ReconcileResult = { kind: 'failed', error, planned, failedAt, revision, durationMs: elapsed() };
      this.counters.failures++;
      this.counters.statementsApplied += applied.length;
      this.lastResult = result;
      this.lastError = error.message;
      // Once per change of reason: a failure that repeats on every retry says nothing new.
      const level = error.message === this.lastLoggedFailure ? 'debug' : 'warn';
      this.lastLoggedFailure = error.message;
      this.logger[level](
        { action: 'reconcile', err: error.message, planned, failedAt, revision },
        'reconcile failed; rolled back',
      );
      return result;
    }
  }

  /** Keeps a copy of rows just read or committed for metadataView(); returns them unchanged. */
  private remember<T extends MetadataRows | null>(rows: T): T {
    if (rows !== null) this.lastSeen = metadataViewOf(rows, this.now());
    return rows;
  }

  /**
   * One change in its own transaction; with `readBack`, returns the rows as they are just before
   * its COMMIT (the last change of a run reads them once for all).
   */
  private async applyChange(
    client: pg.Client,
    change: Change,
    done: number,
    planned: number,
    readBack: boolean,
  ): Promise<MetadataRows | null> {
    const rows = await applyPlan(
      client,
      change.statements,
      (s, i) =>
        this.logger.info(
          {
            action: 'citus-metadata',
            kind: change.kind,
            group: change.group,
            step: done + i + 1,
            of: planned,
            sql: s.sql,
            params: s.params,
          },
          s.why,
        ),
      { readBack },
    );
    this.checkPoolers(change);
    return rows;
  }

  /** Poolers a committed change registered are probed in the background; one that does not answer is logged. */
  private checkPoolers(change: Change): void {
    for (const s of change.statements) {
      const value =
        s.sql === SQL.insertPoolinfoByAddress
          ? s.params[2]
          : s.sql === SQL.insertPoolinfo || s.sql === SQL.updatePoolinfo
            ? s.params[1]
            : null;
      if (typeof value !== 'string') continue;
      void probePooler(value).then((problem) => {
        if (problem !== null) {
          this.logger.warn(
            { action: 'citus-pooler', group: change.group, poolinfo: value, reason: problem },
            'pooler in pg_dist_poolinfo cannot be reached',
          );
        }
      });
    }
  }

  /**
   * Prepared transactions the old primary left behind were streamed to the promoted node and
   * hold their locks there until Citus's own recovery (every minute); resolve them now. Citus
   * contacts every group's primary for that, so it runs in the background on a connection of its
   * own, bounded, and never holds up a reconcile or a pause's answer when another node is down.
   */
  private recoverPrepared(group: number): void {
    void (async () => {
      let client: pg.Client | null = null;
      try {
        client = await this.connectFn();
        client.on('error', () => undefined);
        await client.query("SELECT pg_catalog.set_config('statement_timeout', $1, false)", [
          String(RECOVERY_TIMEOUT_MS),
        ]);
        const recovered = await recoverPreparedTransactions(client);
        this.logger.info(
          { action: 'recover-prepared', group, recovered },
          'prepared transactions recovered after a worker repoint',
        );
      } catch (err) {
        this.logger.warn(
          { action: 'recover-prepared', group, err: errorText(err) },
          'could not recover prepared transactions; Citus retries within a minute',
        );
      } finally {
        await client?.end().catch(() => undefined);
      }
    })();
  }

  /**
   * Logs phase 2's state once per change of reason (not once per attempt) and retries it with
   * backoff while it waits: Citus's sync finishes within a second when every worker answers.
   */
  private noteMembership(waiting: string | null): void {
    if (waiting !== this.membershipWaiting) {
      if (waiting === null) this.logger.info({ action: 'citus-membership' }, 'membership changes done');
      else this.logger.warn({ action: 'citus-membership', reason: waiting }, 'membership changes wait');
      this.membershipWaiting = waiting;
    }
    if (this.membershipTimer) clearTimeout(this.membershipTimer);
    this.membershipTimer = null;
    if (waiting === null) {
      this.membershipAttempts = 0;
      return;
    }
    const delay = Math.min(MEMBERSHIP_MAX_BACKOFF_MS, MEMBERSHIP_MIN_BACKOFF_MS * 2 ** this.membershipAttempts++);
    this.membershipTimer = setTimeout(() => {
      this.membershipTimer = null;
      this.kick();
    }, delay);
    this.membershipTimer.unref();
  }

  /** The watched view with pending events applied; read from etcd when not watching or after a resync. */
  private async currentView(): Promise<ClusterView> {
    if (this.live === null || this.watchHandle === null || this.reloadWanted) {
      this.reloadWanted = false;
      const view = await this.dcs.loadCluster({ allGroups: true });
      if (this.live === null) this.live = new LiveView(view);
      else this.live.replace(view);
    }
    const events = this.pending;
    this.pending = [];
    // Events already in a fresh read (revision at or below it) are skipped by apply().
    this.live.apply(events);
    return this.live.view;
  }

  /** The live view with queued events applied, without a reconcile; null before start(). */
  private peekView(): ClusterView | null {
    if (this.live === null) return null;
    if (this.pending.length > 0) {
      const events = this.pending;
      this.pending = [];
      this.live.apply(events);
    }
    return this.live.view;
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    let client: pg.Client;
    try {
      client = await this.connectFn();
    } catch (err) {
      throw new PostgresError('connect to the coordinator', errorText(err), { cause: err });
    }
    // An idle connection that dies emits 'error'; unhandled, that would end the process.
    client.on('error', (err) => {
      this.logger.warn({ action: 'connection', err: err.message }, 'coordinator connection lost');
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
    });
    this.client = client;
    return client;
  }

  private async dropClient(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  private logIgnored(ignored: { group: number; member: string; reason: string }[]): void {
    const text = JSON.stringify(ignored);
    if (text === this.lastIgnored) return;
    this.lastIgnored = text;
    for (const i of ignored)
      this.logger.warn(
        { action: 'citus-ignore', group: i.group, member: i.member, reason: i.reason },
        'member left out of pg_dist_node',
      );
  }
}
