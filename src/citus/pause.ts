// Coordinator side of the pause protocol (docs/design.md, "Pause protocol"): the registry of open
// pauses, at most one per worker group, which routes POST /citus events and watch events to them,
// opens the unplanned ones and counts how they end. The admission rules live in pauseRules.ts,
// each pause's course in groupPause.ts, its transaction in pauseTxn.ts.
import type pg from 'pg';
import { KEY } from '../dcs/keys.ts';
import { memberAddress } from '../dcs/memberUrl.ts';
import type { ClusterView, DcsEvent } from '../dcs/types.ts';
import type { Logger } from '../log.ts';
import { GroupPause, type PauseCause } from './groupPause.ts';
import { NO_OBSERVER, type CitusObserver } from './observer.ts';
import type { PlanOptions } from './plan.ts';
import {
  checkEvent,
  checkLeader,
  checkRunningLeader,
  findGroup,
  refuse,
  type PauseAnswer,
  type PauseEvent,
} from './pauseRules.ts';

/** Counters for metrics. Durations run from the event (or leader loss) to commit or rollback. */
export interface PauseStats {
  /** Groups with a pause open now (taking its locks, holding them or ending), sorted. */
  open: number[];
  /** Of those, the groups whose locks are held now: routed writes to them wait. */
  held: number[];
  opened: number;
  committed: number;
  rolledBack: number;
  /** Durations of the last ended pauses (up to 100), milliseconds, oldest first. */
  durationsMs: number[];
  /** Longest pause since start, milliseconds; null before the first ended. */
  maxDurationMs: number | null;
}

/** Deadline and cooldown of a pause opened by a leader key vanishing (nobody sent them). */
export interface UnplannedPauseSettings {
  /** Seconds; a new leader normally registers within the HA ttl. */
  timeout: number;
  cooldownMs: number;
}

export const DEFAULT_UNPLANNED_PAUSE: UnplannedPauseSettings = { timeout: 30, cooldownMs: 10000 };

export interface GroupPausesOptions {
  /** Opens a new connection to the coordinator's Citus database (one per pause). */
  connect: () => Promise<pg.Client>;
  /** The manager's live view of etcd, current up to the last watch event; null when not running. */
  view: () => ClusterView | null;
  logger: Logger;
  planOptions: PlanOptions;
  /** Called when a pause ended (committed or rolled back) or metadata may need a reconcile. */
  metadataChanged: (group: number) => void;
  /** A committed pause moved the group's primary row to another node. */
  repointed?: (group: number) => void;
  unplanned?: UnplannedPauseSettings;
  /** How long after_promote waits for the watch to show the sender as running primary. */
  viewWaitMs?: number;
  /** Told of each pause opened and ended (metrics). */
  observer?: CitusObserver;
}

const DEFAULT_VIEW_WAIT_MS = 2000;
const KEPT_DURATIONS = 100;

/**
 * Open pauses, at most one per worker group, each on its own connection. The manager owns one,
 * asks `openGroups()` at every reconcile so it leaves paused groups alone, and feeds it watch
 * events.
 */
export class GroupPauses {
  private readonly connect: () => Promise<pg.Client>;
  private readonly view: () => ClusterView | null;
  private readonly logger: Logger;
  private readonly planOptions: PlanOptions;
  private readonly metadataChanged: (group: number) => void;
  private readonly repointed: (group: number) => void;
  private readonly unplanned: UnplannedPauseSettings;
  private readonly viewWaitMs: number;
  private readonly observer: CitusObserver;

  private readonly pauses = new Map<number, GroupPause>();
  private viewWaiters = new Set<() => void>();
  private stopped = false;
  private counters = { opened: 0, committed: 0, rolledBack: 0 };
  private durations: number[] = [];
  private maxDuration: number | null = null;

  constructor(options: GroupPausesOptions) {
    this.connect = options.connect;
    this.view = options.view;
    this.logger = options.logger.child({ component: 'citus-pause' });
    this.planOptions = options.planOptions;
    this.metadataChanged = options.metadataChanged;
    this.repointed = options.repointed ?? (() => undefined);
    this.unplanned = options.unplanned ?? DEFAULT_UNPLANNED_PAUSE;
    this.viewWaitMs = options.viewWaitMs ?? DEFAULT_VIEW_WAIT_MS;
    this.observer = options.observer ?? NO_OBSERVER;
  }

  /**
   * Groups with a pause open, whatever its state (taking its locks, holding them or ending): their
   * rows belong to the pause transactions, so the reconcile plans them exactly as they are.
   */
  openGroups(): ReadonlySet<number> {
    return new Set(this.pauses.keys());
  }

  stats(): PauseStats {
    return {
      open: [...this.pauses.keys()].sort((a, b) => a - b),
      held: [...this.pauses.values()]
        .filter((p) => p.state === 'held' || p.state === 'committing')
        .map((p) => p.group)
        .sort((a, b) => a - b),
      ...this.counters,
      durationsMs: [...this.durations],
      maxDurationMs: this.maxDuration,
    };
  }

  /**
   * The entry point of `POST /citus`. before_demote resolves once the group's locks are held
   * (or the attempt failed); after_promote once the new address is committed (or not).
   */
  async handleEvent(event: PauseEvent): Promise<PauseAnswer> {
    const problem = checkEvent(event);
    if (problem !== null) return this.ignore(event, problem);
    if (this.stopped) return this.ignore(event, refuse('unavailable', 'the Citus manager is stopping'));
    const view = this.view();
    if (view === null) return this.ignore(event, refuse('unavailable', 'the Citus manager is not running'));
    return event.type === 'before_demote' ? this.beforeDemote(event, view) : this.afterPromote(event);
  }

  /** Leader and member events of the manager's watch, after they were queued for its view. */
  onEvents(events: readonly DcsEvent[]): void {
    if (this.stopped) return;
    const waiters = this.viewWaiters;
    this.viewWaiters = new Set();
    for (const wake of waiters) wake();
    const groups = new Set<number>();
    for (const e of events) if (e.group !== null && e.group >= 1) groups.add(e.group);
    if (groups.size === 0) return;
    const view = this.view();
    if (view === null) return;
    for (const group of groups) {
      const pause = this.pauses.get(group);
      if (pause === undefined) {
        const lost = events.some((e) => e.group === group && e.name === KEY.leader && e.type === 'delete');
        // A batch may carry the loss and the next leader's key together: nothing to cover then.
        if (lost && findGroup(view, group)?.leader == null) {
          this.openUnplanned(
            group,
            'leader key vanished',
            null,
            this.unplanned.timeout * 1000,
            this.unplanned.cooldownMs,
          );
        }
      } else if (pause.cause.kind === 'unplanned') {
        this.finishUnplannedIfLed(pause);
      }
    }
  }

  /** Rolls every open pause back (the manager is stopping) and refuses new ones. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of this.viewWaiters) wake();
    this.viewWaiters.clear();
    await Promise.all([...this.pauses.values()].map((p) => p.rollback('the Citus manager is stopping')));
  }

  private async beforeDemote(event: PauseEvent, view: ClusterView): Promise<PauseAnswer> {
    const notLeader = checkLeader(view, event.group, event.leader);
    if (notLeader !== null) return this.ignore(event, notLeader);
    const existing = this.pauses.get(event.group);
    if (existing !== undefined) {
      // Retries of the same request must not stretch the pause: the deadline stays.
      const held = await existing.opened;
      const left = existing.msLeft();
      return held
        ? { ok: true, message: `group ${event.group} is already paused; its deadline stays (${left} ms left)` }
        : refuse('failed', `group ${event.group}: the pause in progress could not hold its locks`);
    }
    const pause = this.createPause(
      event.group,
      { kind: 'planned', requestedBy: event.leader },
      event.timeout * 1000,
      event.cooldown,
    );
    this.logger.info(
      {
        action: 'pause-open',
        group: event.group,
        member: event.leader,
        timeoutMs: pause.timeoutMs,
        cooldownMs: pause.cooldownMs,
      },
      'before_demote: pausing writes to the group',
    );
    const error = await pause.open();
    if (error !== null) return error;
    return {
      ok: true,
      message:
        `group ${event.group} paused: its primary row is locked ` +
        `until after_promote or the deadline in ${pause.timeoutMs} ms`,
    };
  }

  private async afterPromote(event: PauseEvent): Promise<PauseAnswer> {
    // The sender's member key may reach us a little after its request: wait for it, bounded.
    const check = await this.waitForView(() => {
      const view = this.view();
      return view === null
        ? refuse('unavailable', 'the Citus manager is not running')
        : checkRunningLeader(view, event.group, event.leader);
    });
    if (check !== null) return this.ignore(event, check);
    const pause = this.pauses.get(event.group);
    if (pause === undefined) {
      // Nothing held (no before_demote, or it already ended): the reconcile moves the row.
      this.metadataChanged(event.group);
      return { ok: true, message: `group ${event.group} was not paused; the reconcile will register ${event.leader}` };
    }
    if (!(await pause.opened))
      return refuse('failed', `group ${event.group}: the pause ended before its locks were held`);
    return pause.complete(`after_promote from ${event.leader}`);
  }

  private ignore(event: PauseEvent, answer: PauseAnswer): PauseAnswer {
    const reason = answer.message;
    this.logger.warn(
      { action: 'pause-ignore', type: event.type, group: event.group, member: event.leader, reason },
      'citus event ignored',
    );
    return answer;
  }

  /**
   * The coordinator's probes found the group's primary dead: its routed writes wait from now
   * until a new leader runs as primary, the old one answers again, or `timeoutMs` passes.
   * False when a pause of the group is already open (or the registry is stopping).
   */
  pauseFailedWorker(group: number, address: string, reason: string, timeoutMs: number): boolean {
    if (this.stopped || this.pauses.has(group)) return false;
    this.openUnplanned(group, 'probes', address, timeoutMs, this.unplanned.cooldownMs, reason);
    return true;
  }

  /** The paused primary answers the probes again: a pause they opened rolls back (a blip). */
  workerAnswers(group: number): void {
    const pause = this.pauses.get(group);
    if (pause === undefined || pause.cause.kind !== 'unplanned' || pause.cause.trigger !== 'probes') return;
    if (pause.state === 'committing' || pause.state === 'ending') return;
    void pause.rollback('the primary answers the probes again');
  }

  private openUnplanned(
    group: number,
    trigger: 'leader key vanished' | 'probes',
    deadAddress: string | null,
    timeoutMs: number,
    cooldownMs: number,
    detail?: string,
  ): void {
    const pause = this.createPause(group, { kind: 'unplanned', trigger, deadAddress }, timeoutMs, cooldownMs);
    this.logger.warn(
      {
        action: 'pause-open',
        group,
        reason: detail === undefined ? trigger : `${trigger}: ${detail}`,
        timeoutMs: pause.timeoutMs,
      },
      'worker primary lost: pausing writes to the group until a new leader runs',
    );
    void pause.open().then((error) => {
      if (error === null) this.finishUnplannedIfLed(pause);
    });
  }

  /** Commits an unplanned pause once a leader other than the dead primary runs as primary. */
  private finishUnplannedIfLed(pause: GroupPause): void {
    if (pause.state !== 'held' || pause.cause.kind !== 'unplanned') return;
    const view = this.view();
    if (view === null) return;
    const group = findGroup(view, pause.group);
    const leader = group?.leader?.name;
    if (leader == null || checkRunningLeader(view, pause.group, leader) !== null) return;
    // The primary the probes found dead is no new leader, whatever its stale member key says.
    const data = group?.members.find((m) => m.name === leader)?.data;
    const at = data === undefined ? null : memberAddress(data);
    if (at === null || `${at.host}:${at.port}` === pause.cause.deadAddress) return;
    void pause.complete(`new leader ${leader} registered`);
  }

  private createPause(group: number, cause: PauseCause, timeoutMs: number, cooldownMs: number): GroupPause {
    const pause = new GroupPause({
      group,
      cause,
      timeoutMs,
      cooldownMs,
      connect: this.connect,
      view: this.view,
      planOptions: this.planOptions,
      logger: this.logger,
      repointed: this.repointed,
      ended: (p, outcome, ms) => this.ended(p, outcome, ms),
    });
    this.pauses.set(group, pause);
    this.counters.opened++;
    this.observer.pauseOpened(group);
    return pause;
  }

  /** A pause committed or rolled back: counted, and the reconcile corrects what it left. */
  private ended(pause: GroupPause, outcome: 'committed' | 'rolledBack', ms: number): void {
    this.pauses.delete(pause.group);
    this.counters[outcome]++;
    this.durations.push(ms);
    if (this.durations.length > KEPT_DURATIONS) this.durations.shift();
    this.maxDuration = Math.max(this.maxDuration ?? 0, ms);
    this.observer.pauseEnded(pause.group, outcome, ms);
    this.metadataChanged(pause.group);
  }

  /** Polls `check` on each watch event until it passes (null) or viewWaitMs is over. */
  private async waitForView<T>(check: () => T | null): Promise<T | null> {
    const until = performance.now() + this.viewWaitMs;
    for (;;) {
      const result = check();
      if (result === null || this.stopped) return result;
      const left = until - performance.now();
      if (left <= 0) return result;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.viewWaiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
