// Coordinator side of the pause protocol (docs/design.md, "Pause protocol"): the registry of open
// pauses, at most one per worker group, with their hard deadlines and counters. The admission
// rules live in pauseRules.ts, each pause's transaction in pauseTxn.ts.
import type pg from 'pg';
import { KEY } from '../dcs/keys.ts';
import { memberAddress } from '../dcs/memberUrl.ts';
import type { ClusterView, DcsEvent } from '../dcs/types.ts';
import type { Logger } from '../log.ts';
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
import { PauseTransaction, type PauseConnection } from './pauseTxn.ts';
import { errorText } from '../errors.ts';

export type { PauseAnswer, PauseEvent, PauseRefusal } from './pauseRules.ts';

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
}

/**
 * Why a pause is open: a worker leader's before_demote, or the coordinator's own finding that
 * the group lost its primary (its leader key vanished, or the probes of `deadAddress` failed),
 * in which case the pause ends when a leader runs as primary somewhere else.
 */
type Cause =
  | { kind: 'planned'; requestedBy: string }
  | { kind: 'unplanned'; trigger: 'leader key vanished' | 'probes'; deadAddress: string | null };

type PauseState = 'opening' | 'held' | 'committing' | 'ending';

interface Pause {
  group: number;
  cause: Cause;
  cooldownMs: number;
  timeoutMs: number;
  startedAt: number;
  timer: NodeJS.Timeout | null;
  state: PauseState;
  txn: PauseTransaction;
  /** Settles once the locks are held (true) or the pause is over before that (false). */
  opened: Promise<boolean>;
  resolveOpened: (held: boolean) => void;
  /** The rollback in progress or done; set once. */
  ending: Promise<void> | null;
  /** The commit in progress; set once. */
  completing: Promise<PauseAnswer> | null;
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

  private readonly pauses = new Map<number, Pause>();
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
    await Promise.all([...this.pauses.values()].map((p) => this.rollback(p, 'the Citus manager is stopping')));
  }

  // ---- events ---------------------------------------------------------------------------

  private async beforeDemote(event: PauseEvent, view: ClusterView): Promise<PauseAnswer> {
    const notLeader = checkLeader(view, event.group, event.leader);
    if (notLeader !== null) return this.ignore(event, notLeader);
    const existing = this.pauses.get(event.group);
    if (existing !== undefined) {
      // Retries of the same request must not stretch the pause: the deadline stays.
      const held = await existing.opened;
      const left = Math.max(0, Math.round(existing.startedAt + existing.timeoutMs - performance.now()));
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
    const error = await this.open(pause);
    if (error !== null) return error;
    return {
      ok: true,
      message: `group ${event.group} paused: its primary row is locked until after_promote or the deadline in ${pause.timeoutMs} ms`,
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
    return this.complete(pause, `after_promote from ${event.leader}`);
  }

  private ignore(event: PauseEvent, answer: PauseAnswer): PauseAnswer {
    const reason = answer.message;
    this.logger.warn(
      { action: 'pause-ignore', type: event.type, group: event.group, member: event.leader, reason },
      'citus event ignored',
    );
    return answer;
  }

  // ---- the unplanned case ---------------------------------------------------------------

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
    if (pause.state === 'committing' || pause.ending !== null) return;
    void this.rollback(pause, 'the primary answers the probes again');
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
    void this.open(pause).then((error) => {
      if (error === null) this.finishUnplannedIfLed(pause);
    });
  }

  private finishUnplannedIfLed(pause: Pause): void {
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
    void this.complete(pause, `new leader ${leader} registered`);
  }

  // ---- one pause ------------------------------------------------------------------------

  private createPause(group: number, cause: Cause, timeoutMs: number, cooldownMs: number): Pause {
    let resolveOpened: (held: boolean) => void = () => undefined;
    const opened = new Promise<boolean>((resolve) => (resolveOpened = resolve));
    const pause: Pause = {
      group,
      cause,
      cooldownMs: Math.round(cooldownMs),
      timeoutMs: Math.round(timeoutMs),
      startedAt: performance.now(),
      timer: null,
      state: 'opening',
      txn: new PauseTransaction({
        group,
        connect: () => this.pauseConnection(group),
        timeoutMs: Math.round(timeoutMs),
        cooldownMs: Math.round(cooldownMs),
        planOptions: this.planOptions,
        logger: this.logger,
        onStatement: (s, i, of) =>
          this.logger.info({ action: 'citus-metadata', group, step: i + 1, of, sql: s.sql, params: s.params }, s.why),
      }),
      opened,
      resolveOpened,
      ending: null,
      completing: null,
    };
    // The deadline holds whatever else happens: even a statement still running is cut short.
    pause.timer = setTimeout(() => {
      void this.rollback(
        pause,
        `deadline of ${pause.timeoutMs} ms reached without ${pause.cause.kind === 'planned' ? 'after_promote' : 'a new running leader'}`,
      );
    }, pause.timeoutMs);
    this.pauses.set(group, pause);
    this.counters.opened++;
    return pause;
  }

  /** A connection of the pause's own; a lost one is logged (its transaction is gone with it). */
  private async pauseConnection(group: number): Promise<PauseConnection> {
    const client = await this.connect();
    client.on('error', (err) => {
      this.logger.warn({ action: 'pause-connection', group, err: err.message }, 'pause connection lost');
    });
    return client;
  }

  /** Takes the group's locks; null once they are held, otherwise the refusal (the pause is rolled back). */
  private async open(pause: Pause): Promise<PauseAnswer | null> {
    const group = pause.group;
    try {
      const result = await pause.txn.hold();
      if (!result.held) {
        if (pause.ending === null) await this.rollback(pause, result.reason);
        return refuse('failed', `group ${group}: ${result.reason}`);
      }
      if (pause.ending !== null) return refuse('failed', `group ${group}: the pause ended while taking its locks`);
      pause.state = 'held';
      pause.resolveOpened(true);
      this.logger.info(
        {
          action: 'pause-held',
          group,
          nodeid: result.nodeid,
          method: result.method,
          ms: Math.round(performance.now() - pause.startedAt),
        },
        'group paused: writes routed to it wait',
      );
      return null;
    } catch (err) {
      if (pause.ending !== null) {
        await pause.ending;
        return refuse('failed', `group ${group}: the pause was rolled back while taking its locks`);
      }
      const message = `group ${group}: could not take the locks: ${errorText(err)}`;
      await this.rollback(pause, message);
      return refuse('failed', message);
    }
  }

  /** Repoints the group's rows to the leader the view shows, in the paused transaction, and commits. */
  private complete(pause: Pause, why: string): Promise<PauseAnswer> {
    pause.completing ??= this.commit(pause, why);
    return pause.completing;
  }

  private async commit(pause: Pause, why: string): Promise<PauseAnswer> {
    const group = pause.group;
    if (pause.state !== 'held') return refuse('failed', `group ${group}: the pause is already ending`);
    pause.state = 'committing';
    try {
      const view = this.view();
      if (view === null) throw new Error('the Citus manager is not running');
      const done = await pause.txn.commitRepoint(view);
      if (pause.ending !== null) {
        // The deadline struck while COMMIT was on its way; the server's answer says it committed.
        await pause.ending;
      }
      if (done.moved) this.repointed(group);
      const ms = this.finish(pause, 'committed');
      this.logger.info(
        {
          action: 'pause-commit',
          group,
          reason: why,
          member: done.target.member,
          statements: done.statements,
          durationMs: ms,
        },
        'group resumed on its new primary',
      );
      return {
        ok: true,
        message: `group ${group} now points at ${done.target.host}:${done.target.port}; paused ${ms} ms`,
      };
    } catch (err) {
      const reason =
        pause.ending !== null ? 'the pause was rolled back while committing' : `could not repoint: ${errorText(err)}`;
      await this.rollback(pause, `${why}: ${reason}`);
      return refuse('failed', `group ${group}: ${reason}`);
    }
  }

  /** Ends the pause without a change, whatever it is doing; the reconcile then corrects the group. */
  private rollback(pause: Pause, reason: string): Promise<void> {
    pause.ending ??= (async () => {
      pause.state = 'ending';
      await pause.txn.abandon();
      const ms = this.finish(pause, 'rolledBack');
      this.logger.warn({ action: 'pause-rollback', group: pause.group, reason, durationMs: ms }, 'pause rolled back');
    })();
    return pause.ending;
  }

  private finish(pause: Pause, outcome: 'committed' | 'rolledBack'): number {
    if (pause.timer !== null) clearTimeout(pause.timer);
    pause.timer = null;
    pause.resolveOpened(false);
    const ms = Math.round(performance.now() - pause.startedAt);
    if (this.pauses.get(pause.group) === pause) {
      this.pauses.delete(pause.group);
      this.counters[outcome]++;
      this.durations.push(ms);
      if (this.durations.length > KEPT_DURATIONS) this.durations.shift();
      this.maxDuration = Math.max(this.maxDuration ?? 0, ms);
      if (outcome === 'committed') void pause.txn.close();
      this.metadataChanged(pause.group);
    }
    return ms;
  }

  // ---- the view -------------------------------------------------------------------------

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
