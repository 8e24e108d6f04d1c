// Simulated time for the HA fakes: a clock that moves only when told, with timers that fire in
// time order as it moves. Nothing here reads the wall clock.

export const T0 = Date.parse('2026-01-01T00:00:00Z');

export interface FakeTimer {
  readonly at: number;
  cancel(): void;
}

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class FakeClock {
  private t: number;
  private seq = 0;
  private timers: Pending[] = [];

  constructor(start = T0) {
    this.t = start;
  }

  /** The current simulated time (ms since the epoch); a bound function, to pass as `now`. */
  readonly now = (): number => this.t;

  /** Runs `fn` once the clock reaches `at` (at once on the next advance when `at` has passed). */
  setTimer(at: number, fn: () => void): FakeTimer {
    const pending: Pending = { at: Math.max(at, this.t), seq: this.seq++, fn, cancelled: false };
    this.timers.push(pending);
    this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    return {
      at: pending.at,
      cancel: () => {
        pending.cancelled = true;
        this.timers = this.timers.filter((p) => p !== pending);
      },
    };
  }

  /** Resolves once the clock has moved `ms` further. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(this.t + Math.max(0, ms), resolve));
  }

  /** When the earliest timer fires; null when none is set. */
  nextTimerAt(): number | null {
    return this.timers[0]?.at ?? null;
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  /**
   * Moves to `t`, firing every timer due by then in time order; each timer sees the clock at its
   * own time. Promise continuations of the fired timers run only after this returns.
   */
  advanceTo(t: number): void {
    for (;;) {
      const next = this.timers[0];
      if (next === undefined || next.at > t) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      if (!next.cancelled) next.fn();
    }
    this.t = Math.max(this.t, t);
  }

  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }
}

/** Lets every promise chain that waits on nothing but other promises run to its end. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Moves the clock `ms` further one timer at a time, letting promise continuations run after each,
 * so that a chain of simulated waits makes progress the way it would in real time.
 */
export async function elapse(clock: FakeClock, ms: number): Promise<void> {
  const end = clock.now() + ms;
  await settle();
  for (;;) {
    const next = clock.nextTimerAt();
    if (next === null || next > end) break;
    clock.advanceTo(next);
    await settle();
  }
  clock.advanceTo(end);
  await settle();
}

/** Moves the clock timer by timer until `promise` settles; fails when nothing left could settle it. */
export async function resolveOn<T>(clock: FakeClock, promise: Promise<T>): Promise<T> {
  let done = false;
  const watched = promise.finally(() => (done = true));
  // A rejection is reported by the await below, not as unhandled meanwhile.
  watched.catch(() => undefined);
  await settle();
  while (!done) {
    const next = clock.nextTimerAt();
    if (next === null) throw new Error('the promise waits for something no timer will bring');
    clock.advanceTo(next);
    await settle();
  }
  return watched;
}
