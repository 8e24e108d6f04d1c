// One pause of a worker group's routed writes (docs/design.md, "Pause protocol"): from taking the
// group's locks to the commit of its repoint or its rollback, under a hard deadline that rolls
// back whatever is happening. The registry of pauses is pause.ts, the transaction pauseTxn.ts.
import type pg from 'pg';
import type { ClusterView } from '../dcs/types.ts';
import { errorText } from '../errors.ts';
import type { Logger } from '../log.ts';
import { logStatement } from './applyChange.ts';
import { refuse, type PauseAnswer } from './pauseRules.ts';
import { PauseTransaction, type PauseConnection } from './pauseTxn.ts';
import type { PlanOptions } from './plan.ts';

/**
 * Why a pause is open: a worker leader's before_demote, or the coordinator's own finding that
 * the group lost its primary (its leader key vanished, or the probes of `deadAddress` failed),
 * in which case the pause ends when a leader runs as primary somewhere else.
 */
export type PauseCause =
  | { kind: 'planned'; requestedBy: string }
  | { kind: 'unplanned'; trigger: 'leader key vanished' | 'probes'; deadAddress: string | null };

/**
 * `opening`: taking the locks; `held`: routed writes wait; `committing`: repointing and committing
 * (and so after a commit); `ending`: rolling back, or rolled back.
 */
export type PauseState = 'opening' | 'held' | 'committing' | 'ending';

export interface GroupPauseOptions {
  group: number;
  cause: PauseCause;
  timeoutMs: number;
  cooldownMs: number;
  /** Opens a new connection to the coordinator's Citus database. */
  connect: () => Promise<pg.Client>;
  /** The manager's live view of etcd, current up to the last watch event; null when not running. */
  view: () => ClusterView | null;
  planOptions: PlanOptions;
  logger: Logger;
  /** A commit moved the group's primary row to another node. */
  repointed: (group: number) => void;
  /** Called once, when the pause is over, with how long it lasted. */
  ended: (pause: GroupPause, outcome: 'committed' | 'rolledBack', ms: number) => void;
}

export class GroupPause {
  readonly group: number;
  readonly cause: PauseCause;
  readonly timeoutMs: number;
  readonly cooldownMs: number;
  /** Settles once the locks are held (true) or the pause is over before that (false). */
  readonly opened: Promise<boolean>;
  private resolveOpened: (held: boolean) => void = () => undefined;
  private readonly startedAt = performance.now();
  private current: PauseState = 'opening';
  private readonly txn: PauseTransaction;
  private timer: NodeJS.Timeout | null;
  /** The rollback in progress or done; set once. */
  private ending: Promise<void> | null = null;
  /** The commit in progress; set once. */
  private completing: Promise<PauseAnswer> | null = null;
  private finished = false;

  /** Starts the deadline at once; open() then takes the locks. */
  constructor(private readonly opts: GroupPauseOptions) {
    this.group = opts.group;
    this.cause = opts.cause;
    this.timeoutMs = Math.round(opts.timeoutMs);
    this.cooldownMs = Math.round(opts.cooldownMs);
    this.opened = new Promise<boolean>((resolve) => (this.resolveOpened = resolve));
    const group = opts.group;
    this.txn = new PauseTransaction({
      group,
      connect: () => this.connection(),
      timeoutMs: this.timeoutMs,
      cooldownMs: this.cooldownMs,
      planOptions: opts.planOptions,
      logger: opts.logger,
      onStatement: (s, i, of) => logStatement(opts.logger, s, { group, step: i + 1, of }),
    });
    // The deadline holds whatever else happens: even a statement still running is cut short.
    const awaited = this.cause.kind === 'planned' ? 'after_promote' : 'a new running leader';
    this.timer = setTimeout(() => {
      void this.rollback(`deadline of ${this.timeoutMs} ms reached without ${awaited}`);
    }, this.timeoutMs);
  }

  get state(): PauseState {
    return this.current;
  }

  /** Milliseconds to the deadline (0 once it passed). */
  msLeft(): number {
    return Math.max(0, Math.round(this.startedAt + this.timeoutMs - performance.now()));
  }

  /** Takes the group's locks; null once they are held, otherwise the refusal (the pause is rolled back). */
  async open(): Promise<PauseAnswer | null> {
    const group = this.group;
    try {
      const result = await this.txn.hold();
      if (!result.held) {
        if (this.ending === null) await this.rollback(result.reason);
        return refuse('failed', `group ${group}: ${result.reason}`);
      }
      if (this.ending !== null) return refuse('failed', `group ${group}: the pause ended while taking its locks`);
      this.current = 'held';
      this.resolveOpened(true);
      this.opts.logger.info(
        {
          action: 'pause-held',
          group,
          nodeid: result.nodeid,
          method: result.method,
          duration_ms: Math.round(performance.now() - this.startedAt),
        },
        'group paused: writes routed to it wait',
      );
      return null;
    } catch (err) {
      if (this.ending !== null) {
        await this.ending;
        return refuse('failed', `group ${group}: the pause was rolled back while taking its locks`);
      }
      const message = `group ${group}: could not take the locks: ${errorText(err)}`;
      await this.rollback(message);
      return refuse('failed', message);
    }
  }

  /** Repoints the group's rows to the leader the view shows, in the paused transaction, and commits. */
  complete(why: string): Promise<PauseAnswer> {
    this.completing ??= this.commit(why);
    return this.completing;
  }

  /** Ends the pause without a change, whatever it is doing; the reconcile then corrects the group. */
  rollback(reason: string): Promise<void> {
    this.ending ??= (async () => {
      this.current = 'ending';
      await this.txn.abandon();
      const ms = this.finish('rolledBack');
      this.opts.logger.warn(
        { action: 'pause-rollback', group: this.group, reason, duration_ms: ms },
        'pause rolled back',
      );
    })();
    return this.ending;
  }

  private async commit(why: string): Promise<PauseAnswer> {
    const group = this.group;
    if (this.current !== 'held') return refuse('failed', `group ${group}: the pause is already ending`);
    this.current = 'committing';
    try {
      const view = this.opts.view();
      if (view === null) throw new Error('the Citus manager is not running');
      const done = await this.txn.commitRepoint(view);
      if (this.ending !== null) {
        // The deadline struck while COMMIT was on its way; the server's answer says it committed.
        await this.ending;
      }
      if (done.moved) this.opts.repointed(group);
      const ms = this.finish('committed');
      this.opts.logger.info(
        {
          action: 'pause-commit',
          group,
          reason: why,
          member: done.target.member,
          statements: done.statements,
          duration_ms: ms,
        },
        'group resumed on its new primary',
      );
      return {
        ok: true,
        message: `group ${group} now points at ${done.target.host}:${done.target.port}; paused ${ms} ms`,
      };
    } catch (err) {
      const reason =
        this.ending !== null ? 'the pause was rolled back while committing' : `could not repoint: ${errorText(err)}`;
      await this.rollback(`${why}: ${reason}`);
      return refuse('failed', `group ${group}: ${reason}`);
    }
  }

  /** Stops the deadline and reports the end once (a commit that raced the deadline ends twice). */
  private finish(outcome: 'committed' | 'rolledBack'): number {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.resolveOpened(false);
    const ms = Math.round(performance.now() - this.startedAt);
    if (!this.finished) {
      this.finished = true;
      if (outcome === 'committed') void this.txn.close();
      this.opts.ended(this, outcome, ms);
    }
    return ms;
  }

  /** A connection of the pause's own; a lost one is logged (its transaction is gone with it). */
  private async connection(): Promise<PauseConnection> {
    const client = await this.opts.connect();
    client.on('error', (err) => {
      this.opts.logger.warn(
        { action: 'pause-connection', group: this.group, err: err.message },
        'pause connection lost',
      );
    });
    return client;
  }
}
