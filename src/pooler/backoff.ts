// How long the supervisor waits before starting PgBouncer again: doubling from a short first
// delay up to a ceiling, so a crash is repaired at once and a missing binary is not busy-looped.

export interface RestartTiming {
  /** Delay after the first failure in a row. */
  initialMs: number;
  maxMs: number;
  /** A run at least this long counts as healthy: the next failure starts again from initialMs. */
  stableMs: number;
}

export const DEFAULT_RESTART_TIMING: RestartTiming = { initialMs: 1000, maxMs: 30_000, stableMs: 10_000 };

/** The delay before the next start after `failures` (1 or more) failed starts or exits in a row. */
export function restartDelayMs(failures: number, timing: RestartTiming): number {
  const doublings = Math.max(0, Math.min(failures - 1, 30));
  return Math.min(timing.maxMs, timing.initialMs * 2 ** doublings);
}
