// What only the agent can know about its PostgreSQL: a long task in flight, a start in progress,
// a start that failed, when the postmaster last died unasked, and a lock a background bootstrap
// took. Every change goes through this class's methods; the observer, the executor and the loop
// only call them and read the getters.
import { errorText, ShardherdError } from '../errors.ts';
import type { Action, LongTask } from './types.ts';

export interface RunningTask {
  task: LongTask;
  since: number;
  /** For a restart: the role PostgreSQL had when it began. */
  role?: 'primary' | 'replica';
}

export interface PendingStart {
  as: 'primary' | 'replica';
  since: number;
  /** PostgreSQL accepted connections, exited, or the start gave up. */
  settled: boolean;
}

export interface FailedStart {
  as: 'primary' | 'replica';
  at: number;
  message: string;
}

export class LocalTracker {
  private runningTask: RunningTask | null = null;
  private pendingStart: PendingStart | null = null;
  private crashed: number | null = null;
  private failedStart: FailedStart | null = null;
  private failedTask: { action: Action; message: string } | null = null;
  private acquiredAt: number | null = null;
  private lastStartAs: 'primary' | 'replica' = 'replica';
  /** synchronous_standby_names changed and the flush position after it is still to be recorded. */
  private syncMarkPending = false;
  private mark: number | null = null;

  get task(): RunningTask | null {
    return this.runningTask;
  }

  get start(): PendingStart | null {
    return this.pendingStart;
  }

  /** When the postmaster last died unasked, and nothing healthy was seen since. */
  get crashedSince(): number | null {
    return this.crashed;
  }

  get startFailed(): FailedStart | null {
    return this.failedStart;
  }

  /** A start is under way and has not settled: a postmaster exit now is that start failing. */
  get starting(): boolean {
    return this.pendingStart !== null && !this.pendingStart.settled;
  }

  /**
   * Runs `work` as the one long task. `ended` hears its outcome (null, or the error's text) after
   * the task is cleared; a failure is also kept for the next cycle's `takeTaskFailure`.
   */
  runTask(task: RunningTask, action: Action, work: Promise<void>, ended: (failure: string | null) => void): void {
    if (this.runningTask !== null) throw new ShardherdError(`${this.runningTask.task} is already running`);
    this.runningTask = task;
    void work
      .then(
        () => null,
        (err: unknown) => {
          const message = errorText(err);
          this.failedTask = { action, message };
          return message;
        },
      )
      .then((failure) => {
        this.runningTask = null;
        // A task that succeeded rewrote or replaced the data directory: an earlier failed start or
        // crash says nothing about it any more. After a failure they still explain what to do next.
        if (failure === null) {
          this.failedStart = null;
          this.crashed = null;
        }
        ended(failure);
      });
  }

  /** A failed long task, reported to decide once as the previous cycle's failure. */
  takeTaskFailure(): { action: Action; message: string } | null {
    const failure = this.failedTask;
    this.failedTask = null;
    return failure;
  }

  startBegan(as: 'primary' | 'replica', since: number): void {
    this.lastStartAs = as;
    this.failedStart = null;
    this.pendingStart = { as, since, settled: false };
  }

  /** The start under way ended: up (null) or failed, with when and why. */
  startSettled(failure: { at: number; message: string } | null): void {
    const pending = this.pendingStart;
    if (pending === null) return;
    pending.settled = true;
    if (failure !== null) this.failedStart = { as: pending.as, ...failure };
  }

  /**
   * PostgreSQL runs but does not answer yet (starting, or recovering after a crash restart): the
   * start under way, or one noted now in the role of the last start.
   */
  seenNotAnswering(now: number): PendingStart {
    this.pendingStart ??= { as: this.lastStartAs, since: now, settled: true };
    return this.pendingStart;
  }

  /** PostgreSQL answered: whatever start was settled is over, and so is any crash episode. */
  seenAnswering(): void {
    if (this.pendingStart?.settled !== false) this.pendingStart = null;
    this.crashed = null;
    this.failedStart = null;
  }

  noteUnexpectedExit(now: number): void {
    this.crashed ??= now;
  }

  /** synchronous_standby_names was changed (and is in force); the next observation records the mark. */
  syncStandbysChanged(): void {
    this.syncMarkPending = true;
    this.mark = null;
  }

  /**
   * A primary's flush position as observed; the first one after a change of
   * synchronous_standby_names becomes the mark. Returns the mark (null: none yet).
   */
  observedFlush(flushLsn: number): number | null {
    if (this.syncMarkPending) {
      this.mark = flushLsn;
      this.syncMarkPending = false;
    }
    return this.mark;
  }

  /** Not a primary (any more): a mark belongs to one term as primary. */
  forgetSyncMark(): void {
    this.syncMarkPending = false;
    this.mark = null;
  }

  /** A background task (bootstrap) took the leader key at `at`. */
  noteLockAcquired(at: number): void {
    this.acquiredAt = at;
  }

  /** When a background task took the leader key since the last call; the loop adopts it once. */
  takeAcquiredLock(): number | null {
    const at = this.acquiredAt;
    this.acquiredAt = null;
    return at;
  }
}
