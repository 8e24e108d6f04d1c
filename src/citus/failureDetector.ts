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
}

export type HealthAction =
  | { kind: 'none' }
  /** The primary failed `count` rounds in a row: pause the group's writes. */
  | { kind: 'suspect'; reason: string }
  /** A suspect primary answers again: a blip, end the pause it caused. */
  | { kind: 'recovered' };

export function initialHealth(address: string): GroupHealth {
  return { address, failures: 0, suspect: false };
}

/**
 * The next state after one probe round of `address`. A round at another address than the
 * state's (the group was repointed) starts from a clean state, so an old primary's failures
 * never count against a new one.
 */
export function nextHealth(prev: GroupHealth | undefined, address: string, result: ProbeResult, count: number): { health: GroupHealth; action: HealthAction } {
  const state = prev === undefined || prev.address !== address ? initialHealth(address) : prev;
  if (result.ok) {
    return { health: initialHealth(address), action: state.suspect ? { kind: 'recovered' } : { kind: 'none' } };
  }
  const failures = state.failures + 1;
  if (!state.suspect && failures >= Math.max(1, count)) {
    return { health: { address, failures, suspect: true }, action: { kind: 'suspect', reason: `${failures} probes in a row failed: ${result.reason}` } };
  }
  return { health: { address, failures, suspect: state.suspect }, action: { kind: 'none' } };
}
