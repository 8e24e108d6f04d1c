// The Citus manager: keeps the coordinator's pg_dist_node and pg_dist_poolinfo equal to what etcd
// says about every group, reconciling on each leader or member event (docs/design.md, "Citus
// manager"). This is the loop: the watch, retries and backoff, one attempt at a time (each one in
// reconcile.ts), with the pause registry and the worker probes beside it.
import type pg from 'pg';
import pRetry from 'p-retry';
import type { DcsWatch, WatchListener } from '../dcs/watch.ts';
import type { CitusMark, ClusterView, DcsEvent } from '../dcs/types.ts';
import { errorText } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Serial } from '../serial.ts';
import { LiveView, isTopologyEvent } from './liveView.ts';
import type { MetadataView } from './metadataView.ts';
import { LeaderToMetadata, NO_OBSERVER, type CitusObserver } from './observer.ts';
import { GroupPauses, type PauseStats, type UnplannedPauseSettings } from './pause.ts';
import { refuse, type PauseAnswer, type PauseEvent } from './pauseRules.ts';
import { DEFAULT_PLAN_OPTIONS, type PlanOptions } from './plan.ts';
import { Reconciler, type ReconcileResult, type ReconcileStats } from './reconcile.ts';
import { recoverPreparedInBackground } from './recoverPrepared.ts';
import { ScaleWork, type ScaleSettings, type ScaleStatus } from './scale.ts';
import { WorkerWatch, type FailureOptions } from './workerWatch.ts';

/** What the manager needs from the etcd layer (class Dcs provides it). */
export interface TopologySource {
  loadCluster(options: { allGroups?: boolean }): Promise<ClusterView>;
  watch(fromRevision: string, onEvents: WatchListener): DcsWatch;
  setCitusMark(group: number, value: CitusMark, modRevision: string | null): Promise<boolean>;
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
  /** Scale-out and scale-in settings (the coordinator group's dynamic `citus`); no rebalance on join by default. */
  scale?: () => ScaleSettings;
  /** Told of every reconcile, pause and repoint (metrics); nobody by default. */
  observer?: CitusObserver;
}

/** Counters and last outcomes, for tests, logs and metrics. */
export interface CitusManagerStats extends ReconcileStats {
  running: boolean;
  lastDurationMs: number | null;
  viewRevision: string | null;
}

type Phase = 'idle' | 'running' | 'stopping' | 'stopped';

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2000;
/** Phase 2's retries: first soon after a repoint (Citus syncs in ~0.1 s), at most Citus's 5 s retry. */
const MEMBERSHIP_MIN_BACKOFF_MS = 100;
const MEMBERSHIP_MAX_BACKOFF_MS = 5000;
/** Scale passes while work remains (a job runs, a removal waits), and after a failed pass. */
const SCALE_PASS_MS = 1000;
const SCALE_RETRY_MS = 10_000;

export class CitusManager {
  private readonly dcs: TopologySource;
  private readonly logger: Logger;
  private readonly retryTimeoutMs: number;
  private readonly reconciler: Reconciler;
  private readonly pauses: GroupPauses;
  /** The coordinator's own probes of the worker primaries, when configured. */
  private readonly workers: WorkerWatch | null = null;

  private phase: Phase = 'idle';
  private live: LiveView | null = null;
  private watchHandle: DcsWatch | null = null;
  /** Watch events not yet applied to the view, in arrival order. */
  private pending: DcsEvent[] = [];
  private reloadWanted = false;
  /** Attempts run one at a time: the loop and reconcileNow() queue here. */
  private readonly attempts = new Serial();
  private loop: Promise<void> | null = null;
  private dirty = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  /** The last reason the retries gave up for, logged at error, so repeats are not. */
  private lastGivenUp: string | null = null;
  /** Why adds and removes wait (null: they do not), as last logged. */
  private membershipWaiting: string | null = null;
  private membershipAttempts = 0;
  private membershipTimer: NodeJS.Timeout | null = null;
  private readonly scale: ScaleWork;
  private scaleTimer: NodeJS.Timeout | null = null;
  private readonly leaderLag: LeaderToMetadata;

  constructor(options: CitusManagerOptions) {
    this.dcs = options.dcs;
    this.logger = options.logger.child({ component: 'citus-manager' });
    this.retryTimeoutMs = options.retryTimeout * 1000;
    const planOptions = options.planOptions ?? DEFAULT_PLAN_OPTIONS;
    const observer = options.observer ?? NO_OBSERVER;
    this.leaderLag = new LeaderToMetadata(observer);
    const repointed = (group: number): void => {
      this.leaderLag.repointed(group);
      recoverPreparedInBackground(options.connect, this.logger, group);
    };
    // Paused groups run on their own connections; the reconcile plans them exactly as they are.
    this.pauses = new GroupPauses({
      connect: options.connect,
      view: () => this.peekView(),
      logger: options.logger,
      planOptions,
      metadataChanged: () => {
        this.reconciler.rowsChanged();
        this.kick();
      },
      repointed,
      unplanned: options.pause?.unplanned,
      viewWaitMs: options.pause?.viewWaitMs,
      observer,
    });
    this.scale = new ScaleWork({
      connect: options.connect,
      logger: this.logger,
      view: () => this.peekView(),
      pausedGroups: () => this.pauses.openGroups(),
      settings: options.scale ?? (() => ({ rebalanceOnJoin: false, transferMode: 'auto' })),
      writeMark: (group, mark, modRevision) => this.dcs.setCitusMark(group, mark, modRevision),
      rowsChanged: () => this.reconciler.rowsChanged(),
      now: options.now,
    });
    this.reconciler = new Reconciler({
      connect: options.connect,
      logger: this.logger,
      planOptions,
      now: options.now ?? Date.now,
      view: () => this.currentView(),
      pausedGroups: () => this.pauses.openGroups(),
      removalHeld: (view) => this.scale.heldGroups(view),
      repointed,
      membershipWaits: (waiting) => this.noteMembership(waiting),
      observer,
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

  /** pg_dist_node and pg_dist_poolinfo as a reconcile last read or committed them; null before the first read. */
  metadataView(): MetadataView | null {
    return this.reconciler.metadataView();
  }

  /** Joins and removals of worker groups as of the last look: the rebalancer, placements, what waits. */
  scaleStatus(): ScaleStatus {
    return this.scale.status();
  }

  /** Reads the scale state afresh for scaleStatus(); acts on nothing. */
  async refreshScaleStatus(): Promise<void> {
    if (this.phase === 'running') await this.attempts.run(() => this.scale.observe());
  }

  /** Why adds and removes wait, as of the last reconcile that ran; null when none wait. */
  membershipWaitReason(): string | null {
    return this.membershipWaiting;
  }

  stats(): CitusManagerStats {
    const attempts = this.reconciler.stats();
    return {
      running: this.phase === 'running',
      reconciles: attempts.reconciles,
      failures: attempts.failures,
      statementsApplied: attempts.statementsApplied,
      lastDurationMs: attempts.lastResult?.durationMs ?? null,
      lastResult: attempts.lastResult,
      lastError: attempts.lastError,
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
    this.leaderLag.seed(view);
    this.logger.info({ action: 'start', revision: view.revision, groups: view.groups.length }, 'citus manager started');
    this.watchHandle = this.dcs.watch(view.revision, this.onWatch);
    this.workers?.start();
    this.kick();
    await this.loop;
  }

  /** Closes the watch, stops the probes, rolls back open pauses, waits for a reconcile in flight, disconnects. */
  async stop(): Promise<void> {
    if (this.phase === 'stopped' || this.phase === 'stopping') return;
    this.phase = 'stopping';
    this.watchHandle?.close();
    this.watchHandle = null;
    for (const timer of [this.retryTimer, this.membershipTimer, this.scaleTimer]) if (timer) clearTimeout(timer);
    this.retryTimer = this.membershipTimer = this.scaleTimer = null;
    this.abort.abort(new Error('citus manager stopping'));
    await this.workers?.stop();
    await this.pauses.stop();
    await this.loop?.catch(() => undefined);
    await this.attempts.idle();
    await this.reconciler.close();
    await this.scale.close();
    this.phase = 'stopped';
    this.logger.info({ action: 'stop' }, 'citus manager stopped');
  }

  /** One reconcile attempt now, after any in flight, without retries; before start() it reads etcd's view first. */
  reconcileNow(): Promise<ReconcileResult> {
    if (this.phase === 'stopping' || this.phase === 'stopped') {
      return Promise.reject(new Error('CitusManager.reconcileNow: the manager is stopped'));
    }
    return this.attempts.run(() => this.attempt());
  }

  private readonly onWatch: WatchListener = (events, _revision, signal) => {
    if (this.phase !== 'running') return;
    if (signal === 'resync') {
      this.reloadWanted = true;
      this.pending = [];
      this.scale.nudge();
    } else {
      const relevant = events.filter(isTopologyEvent);
      if (relevant.length === 0) return;
      this.pending.push(...relevant);
      this.leaderLag.onEvents(relevant);
      this.pauses.onEvents(relevant);
      this.scale.noteEvents(relevant);
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
      if (this.scale.due()) await this.scalePass();
    } while (this.dirty && this.phase === 'running');
  }

  /** One pass of scale work, between reconciles; while work remains, another follows a second later. */
  private async scalePass(): Promise<void> {
    if (this.phase !== 'running') return;
    const remains = await this.attempts.run(() => this.scale.pass());
    if (!remains || this.scaleTimer !== null || this.phase !== 'running') return;
    const delay = this.scale.status().lastError === null ? SCALE_PASS_MS : SCALE_RETRY_MS;
    this.scaleTimer = setTimeout(() => {
      this.scaleTimer = null;
      void this.scalePass();
    }, delay);
    this.scaleTimer.unref();
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

  /** One attempt; a success makes the next giving up worth logging again. */
  private async attempt(): Promise<ReconcileResult> {
    const result = await this.reconciler.attempt();
    if (result.kind === 'applied') this.lastGivenUp = null;
    if (result.kind === 'applied' && result.statements.length > 0) this.scale.nudge();
    return result;
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
}
