// What the HA loop reports: one cycle's outcome (for whoever drives cycles by hand) and what it
// knows after its last cycle (for the REST API and the Citus side).
import type { DynamicConfig } from '../config/types.ts';
import type { ClusterView, GroupView } from '../dcs/types.ts';
import type { ScheduledRestart } from './operatorRequests.ts';
import type { DcsHealth, Decision, LocalState, LockState } from './types.ts';

/** What one cycle did, for whoever drives cycles by hand (tests, the group simulator). */
export interface CycleReport {
  decision: Decision | null;
  /** The next cycle should follow at once. */
  hurry: boolean;
}

/** What the loop knows after its last cycle, for the REST API and the Citus side. */
export interface HaSnapshot {
  lock: LockState;
  dcs: DcsHealth;
  view: GroupView | null;
  cluster: ClusterView | null;
  local: LocalState | null;
  dynamic: DynamicConfig;
  lastCycleAt: number;
  dcsLastSeen: number;
  lastDecision: Decision | null;
  /** pg_settings.pending_restart as of the last cycle that saw PostgreSQL running. */
  pendingRestart: boolean;
  scheduledRestart: ScheduledRestart | null;
  /** Failsafe mode keeps this primary up without etcd, or keeps this replica from taking the lead. */
  failsafeActive: boolean;
}
