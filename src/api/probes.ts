// Kubernetes-style probes: liveness (is the HA loop still cycling?) and readiness (may this
// member receive traffic?). Pure; the caller passes the clock reading.

export type ProbeStatusCode = 200 | 503;

export interface LivenessInput {
  paused: boolean;
  /** Holds the leader lock; a leader is given less slack than a replica. */
  isLeader: boolean;
  /** Milliseconds since the epoch when the HA loop last finished a cycle. */
  lastCycleAt: number;
  /** Seconds. */
  ttl: number;
  now: number;
}

/**
 * Alive while the last cycle ended less than ttl (leader) or 2 * ttl (others) ago. On the
 * leader the probe fails about when its lease runs out; a replica's stall harms nobody, so it
 * gets longer. In pause the loop may stall on purpose, so it is always alive.
 */
export function livenessStatusCode(input: LivenessInput): ProbeStatusCode {
  if (input.paused) return 200;
  const thresholdMs = input.ttl * (input.isLeader ? 1 : 2) * 1000;
  return input.lastCycleAt + thresholdMs > input.now ? 200 : 503;
}

export interface ReadinessInput {
  isLeader: boolean;
  /** PostgreSQL state, e.g. `running`. */
  state: string;
  /** Whether etcd was reached at least once. */
  viewKnown: boolean;
}

/** Ready as the leader, or as a running member that knows the group's state. */
export function readinessStatusCode(input: ReadinessInput): ProbeStatusCode {
  if (input.isLeader) return 200;
  return input.state === 'running' && input.viewKnown ? 200 : 503;
}
