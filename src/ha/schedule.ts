// When the next cycle runs and whether the fence is armed: pure rules the loop only carries out.
import type { Action, LocalState, LockState } from './types.ts';
import { watchdogDeadline } from './watchdog.ts';

/** Shortest pause between two cycles, so a failing action or a stream of wake-ups cannot spin. */
export const MIN_NAP_MS = 50;

/**
 * Actions whose follow-up should not wait a whole loop_wait: a cycle that stopped or started
 * PostgreSQL, took or released the lock, or started a long task is followed at once (start as a
 * replica after a demote, promote after winning the race).
 */
const HURRYING: ReadonlySet<Action['kind']> = new Set([
  'acquireLock',
  'releaseLock',
  'promote',
  'demote',
  'stopPostgres',
  'startPostgres',
  'restartInPlace',
  'restart',
  'bootstrap',
  'clone',
  'rewind',
  'reinitialize',
  'setSyncStandbys',
]);

/**
 * Whether the next cycle follows at once. A list that failed, or that answers a failed start,
 * never hurries: a step that keeps failing must not spin.
 */
export function hurries(actions: readonly Action[], afterFailure: boolean): boolean {
  return !afterFailure && actions.some((a) => HURRYING.has(a.kind));
}

export interface NapInput {
  /** The cycle asked for a prompt follow-up (see hurries). */
  hurry: boolean;
  /** Something woke the loop while the cycle ran (a watch event, a request, a postmaster exit). */
  woken: boolean;
  /** How long the cycle took. */
  elapsedMs: number;
  loopWaitSeconds: number;
  /** Until a scheduled restart is due; null when none is scheduled. */
  untilScheduledMs: number | null;
  /** The decision asked to look again this soon (a change under way); null when it did not. */
  recheckMs: number | null;
}

/** How long the loop sleeps before the next cycle (a wake-up during the sleep cuts it short). */
export function nextNapMs(input: NapInput): number {
  if (input.hurry || input.woken) return MIN_NAP_MS;
  let nap = Math.max(MIN_NAP_MS, input.loopWaitSeconds * 1000 - input.elapsedMs);
  // A scheduled restart runs at its time, not up to a loop_wait later.
  if (input.untilScheduledMs !== null) nap = Math.min(nap, input.untilScheduledMs);
  if (input.recheckMs !== null) nap = Math.min(nap, input.recheckMs);
  return Math.max(MIN_NAP_MS, nap);
}

export interface FenceInput {
  lock: LockState;
  local: LocalState | null;
  /** The postmaster's pid, null when none runs. */
  pid: number | null;
  /** Maintenance mode: nothing is fenced. */
  paused: boolean;
  ttlSeconds: number;
}

/**
 * The fence's deadline while this member is a lock-holding, running primary outside maintenance
 * mode (one step ahead of the lease); null when the fence must be disarmed.
 */
export function fenceDeadline(input: FenceInput): number | null {
  if (input.lock.kind !== 'held' || input.local?.kind !== 'runningPrimary') return null;
  if (input.pid === null || input.paused) return null;
  return watchdogDeadline(input.lock.confirmedAt, input.ttlSeconds);
}
