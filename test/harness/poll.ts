// Deadline-bounded polling: the only way tests wait for something to become true.
// Fixed sleeps make tests both slow and flaky; polling with a deadline is neither.
import { errorText } from '../../src/errors.ts';

export interface WaitForOptions {
  /** Give up after this many milliseconds. */
  timeout: number;
  /** Pause between attempts in milliseconds (default 100). */
  interval?: number;
  /** Says what was awaited; it leads the error thrown at the deadline. */
  message: string;
}

/**
 * Calls `fn` until it returns (or resolves to) a truthy value and returns that value.
 * A throw or rejection counts as "not yet"; the last one is reported at the deadline.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitForOptions): Promise<T> {
  const interval = opts.interval ?? 100;
  const deadline = Date.now() + opts.timeout;
  let lastError: unknown;
  let lastValue: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      lastValue = value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(interval, remaining)));
  }
  const detail = lastError !== undefined ? `last error: ${errorText(lastError)}` : `last value: ${String(lastValue)}`;
  throw new Error(`${opts.message} (timed out after ${opts.timeout} ms; ${detail})`, {
    cause: lastError,
  });
}
