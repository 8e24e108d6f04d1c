// What the Citus manager reports as it works, for metrics: each reconcile attempt, each pause's
// opening and end, and how long a worker group's new leader waited for its pg_dist_node row.
import { KEY } from '../dcs/keys.ts';
import type { ClusterView, DcsEvent } from '../dcs/types.ts';

export interface CitusObserver {
  /** One reconcile attempt ended: applied (possibly nothing) or failed. */
  reconciled(ok: boolean, durationMs: number): void;
  pauseOpened(group: number): void;
  pauseEnded(group: number, outcome: 'committed' | 'rolledBack', durationMs: number): void;
  /** From the manager seeing a worker group's new leader key to its primary row pointing there. */
  leaderToMetadata(group: number, ms: number): void;
}

export const NO_OBSERVER: CitusObserver = {
  reconciled: () => undefined,
  pauseOpened: () => undefined,
  pauseEnded: () => undefined,
  leaderToMetadata: () => undefined,
};

/**
 * Times each worker group's change of leader: from the watch event that names a leader other than
 * the last one seen to the repoint that commits its primary row (by a reconcile or a pause).
 */
export class LeaderToMetadata {
  /** The last leader name seen per worker group. */
  private readonly leaders = new Map<number, string>();
  /** Per group: when a new leader was first seen, not yet registered. */
  private readonly pending = new Map<number, number>();

  constructor(
    private readonly observer: CitusObserver,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The leaders at the start of a watch: nothing to time for them. */
  seed(view: ClusterView): void {
    for (const g of view.groups)
      if (g.group !== null && g.group > 0 && g.leader) this.leaders.set(g.group, g.leader.name);
  }

  /** Watch events as they arrive. */
  onEvents(events: readonly DcsEvent[]): void {
    for (const e of events) {
      if (e.group === null || e.group < 1 || e.name !== KEY.leader || e.type !== 'put' || e.value === null) continue;
      if (this.leaders.get(e.group) === e.value) continue;
      this.leaders.set(e.group, e.value);
      if (!this.pending.has(e.group)) this.pending.set(e.group, this.now());
    }
  }

  /** The group's primary row was committed at a new address. */
  repointed(group: number): void {
    const since = this.pending.get(group);
    if (since === undefined) return;
    this.pending.delete(group);
    this.observer.leaderToMetadata(group, this.now() - since);
  }
}
