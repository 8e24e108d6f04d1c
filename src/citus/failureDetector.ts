// When the coordinator takes a worker primary for dead (docs/design.md, "Worker failure"): pure
// bookkeeping of the probes' results per group, answering when to pause the group's routed
// writes and when a paused primary that answers again ends the pause.

/** What one probe round found for a group's registered primary. */
export type ProbeResult = { ok: true } | { ok: false; reason: string };

export interface GroupHealth {
  /** The address probed (`host:port`); a new address starts afresh. */
  address: string;
  /** Consecutive failed rounds. */
  failures: number;
  /** Set once `failures` reached the count: the group was reported suspect. */
  suspect: boolean;
  /**
   * Whether a probe of this address ever succeeded. Without that, failures may be the probe's
   * own problem (credentials, pg_hba), and pausing a group on them would stall healthy writes.
   */
  seenUp: boolean;
}

export type HealthAction =
  | { kind: 'none' }
  /** The primary failed `count` rounds in a row: pause the group's writes. */
  | { kind: 'suspect'; reason: string }
  /** A suspect primary answers again: a blip, end the pause it caused. */
  | { kind: 'recovered' }
  /** The probes fail at an address they never reached: reported once, nothing is paused. */
  | { kind: 'unreachable'; reason: string };

export function initialHealth(address: string): GroupHealth {
  return { address, failures: 0, suspect: false, seenUp: false };
}

/**
 * The next state after one probe round of `address`. A round at another address than the
 * state's (the group was repointed) starts from a clean state, so an old primary's failures
 * never count against a new one.
 */
export function nextHealth(
  prev: GroupHealth | undefined,
  address: string,
  result: ProbeResult,
  count: number,
): { health: GroupHealth; action: HealthAction } {
  const state = prev === undefined || prev.address !== address ? initialHealth(address) : prev;
  if (result.ok) {
    const health = { ...initialHealth(address), seenUp: true };
    return { health, action: state.suspect && state.seenUp ? { kind: 'recovered' } : { kind: 'none' } };
  }
  const failures = state.failures + 1;
  if (!state.suspect && failures >= Math.max(1, count)) {
    const reason = `${failures} probes in a row failed: ${result.reason}`;
    const action: HealthAction = state.seenUp ? { kind: 'suspect', reason } : { kind: 'unreachable', reason };
    return { health: { ...state, failures, suspect: true }, action };
  }
  return { health: { ...state, failures }, action: { kind: 'none' } };
}
