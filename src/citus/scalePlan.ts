// planScale: the next step of a worker group's join (a rebalance once per join) or removal (drain,
// then its rows out of pg_dist_node), from etcd's marks and the coordinator's state (docs/design.md,
// "Scale out and in"). Pure; scale.ts runs the step it returns and asks again.
import type { CitusMark, RemovalState } from '../dcs/types.ts';
import type { PgDistNodeRow } from './types.ts';

/** The latest rebalance job, as `citus_rebalance_status()` reports it. */
export interface RebalanceJob {
  jobId: number;
  /** Citus's `citus_job_status`: scheduled, running, cancelling, finished, cancelled, failing, failed. */
  state: string;
  description: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Tasks by state (`details.task_state_counts`). */
  counts: Record<string, number>;
}

/** A job in these states will still move shards; no other may start meanwhile. */
const ACTIVE = new Set(['scheduled', 'running', 'cancelling', 'failing']);

export function jobActive(job: RebalanceJob | null): job is RebalanceJob {
  return job !== null && ACTIVE.has(job.state);
}

/** A worker group as etcd shows it. */
export interface ScaleGroup {
  group: number;
  mark: CitusMark;
  /** Whether its leader's member key says it runs as primary. */
  leaderRunsPrimary: boolean;
}

export interface ScaleInputs {
  /** Worker groups (> 0) with keys in etcd. */
  groups: ScaleGroup[];
  nodes: readonly PgDistNodeRow[];
  /** Shard placements per group id. */
  placements: ReadonlyMap<number, number>;
  job: RebalanceJob | null;
  rebalanceOnJoin: boolean;
  /** Why calls that contact every metadata worker must wait (membershipBlocker); null: they may run. */
  blocked: string | null;
  /** Why no rebalance may start yet (a recent one failed); null: one may. */
  startHeld: string | null;
}

export type ScaleStep =
  /** Nothing to do until etcd or the rows change. */
  | { kind: 'idle' }
  /** Work remains that cannot be done now: ask again soon. */
  | { kind: 'wait'; reason: string }
  | { kind: 'stopShards'; group: number; host: string; port: number; why: string }
  | { kind: 'startRebalance'; drainOnly: boolean; joined: number[]; why: string }
  | { kind: 'markRemoval'; group: number; state: RemovalState; why: string }
  | { kind: 'removeNode'; group: number; host: string; port: number; why: string };

/** Groups whose rows the reconcile must leave as they are: their removal owns them. */
export function removalHeld(groups: readonly { group: number; mark: CitusMark }[]): Set<number> {
  const held = new Set<number>();
  for (const g of groups) {
    const state = g.mark.removal?.state;
    if (state === 'removing' || state === 'removed') held.add(g.group);
  }
  return held;
}

const at = (r: PgDistNodeRow): string => `${r.nodename}:${r.nodeport}`;

function describeJob(job: RebalanceJob): string {
  const done = job.counts.done ?? 0;
  const total = Object.values(job.counts).reduce((n, c) => n + c, 0);
  return `rebalance job ${job.jobId} is ${job.state} (${done} of ${total} moves done)`;
}

/** The next step of one group's removal; null when it has nothing left to do. */
function removalStep(g: ScaleGroup, state: RemovalState, inputs: ScaleInputs): ScaleStep | null {
  const rows = inputs.nodes.filter((r) => r.groupid === g.group);
  const primary = rows.find((r) => r.noderole === 'primary');
  const placements = inputs.placements.get(g.group) ?? 0;
  if (state === 'draining') {
    if (primary?.shouldhaveshards) {
      if (inputs.blocked !== null) return { kind: 'wait', reason: `group ${g.group}'s drain waits: ${inputs.blocked}` };
      return {
        kind: 'stopShards',
        group: g.group,
        host: primary.nodename,
        port: primary.nodeport,
        why: `group ${g.group} is being removed: no new shards for ${at(primary)}`,
      };
    }
    if (placements === 0) {
      return { kind: 'markRemoval', group: g.group, state: 'removing', why: `group ${g.group} holds no shards` };
    }
    if (jobActive(inputs.job)) return { kind: 'wait', reason: describeJob(inputs.job) };
    if (!g.leaderRunsPrimary)
      return { kind: 'wait', reason: `group ${g.group} has no running primary: its shards cannot be copied off` };
    if (inputs.blocked !== null) return { kind: 'wait', reason: `group ${g.group}'s drain waits: ${inputs.blocked}` };
    if (inputs.startHeld !== null) return { kind: 'wait', reason: inputs.startHeld };
    return {
      kind: 'startRebalance',
      drainOnly: true,
      joined: [],
      why: `drain group ${g.group}: ${placements} shard placement(s) to move`,
    };
  }
  if (state === 'removing') {
    if (placements > 0)
      return { kind: 'wait', reason: `group ${g.group} holds ${placements} shard placement(s) again: not removing it` };
    // Secondaries first: the primary row goes last, as the group's address in Citus.
    const next = rows.find((r) => r.noderole !== 'primary') ?? primary ?? rows[0];
    if (next === undefined) {
      return { kind: 'markRemoval', group: g.group, state: 'removed', why: `no row of group ${g.group} is left` };
    }
    if (inputs.blocked !== null) return { kind: 'wait', reason: `group ${g.group}'s removal waits: ${inputs.blocked}` };
    return {
      kind: 'removeNode',
      group: g.group,
      host: next.nodename,
      port: next.nodeport,
      why: `group ${g.group} is being removed: remove ${next.noderole} ${at(next)}`,
    };
  }
  return null;
}

/**
 * The next step: removals first (in group order), then joins, then following a running job.
 * Repeating the returned step after it was carried out is never needed: the inputs it changes
 * (rows, marks, the job) make the next call return the step after it.
 */
export function planScale(inputs: ScaleInputs): ScaleStep {
  const groups = [...inputs.groups].sort((a, b) => a.group - b.group);
  for (const g of groups) {
    const state = g.mark.removal?.state;
    if (state === undefined) continue;
    const step = removalStep(g, state, inputs);
    if (step !== null) return step;
  }
  if (inputs.rebalanceOnJoin) {
    const registered = new Set(
      inputs.nodes.filter((r) => r.noderole === 'primary' && r.isactive && r.shouldhaveshards).map((r) => r.groupid),
    );
    const joined = groups
      .filter((g) => g.mark.removal === undefined && g.mark.joined === undefined && registered.has(g.group))
      .map((g) => g.group);
    if (joined.length > 0) {
      const which = `group${joined.length > 1 ? 's' : ''} ${joined.join(', ')}`;
      if (jobActive(inputs.job)) return { kind: 'wait', reason: `${which} joined; ${describeJob(inputs.job)}` };
      if (inputs.blocked !== null)
        return { kind: 'wait', reason: `${which} joined; the rebalance waits: ${inputs.blocked}` };
      if (inputs.startHeld !== null) return { kind: 'wait', reason: inputs.startHeld };
      return { kind: 'startRebalance', drainOnly: false, joined, why: `${which} joined` };
    }
  }
  if (jobActive(inputs.job)) return { kind: 'wait', reason: describeJob(inputs.job) };
  return { kind: 'idle' };
}
