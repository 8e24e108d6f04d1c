// Groups on hold: the planner is told to want exactly what their rows already say, so a plan
// never touches them. This is the seam for the pause protocol, whose transaction owns a paused
// group's primary row while the other groups keep being reconciled.
import type { ClusterView } from '../dcs/types.ts';
import { desiredTopology } from './desired.ts';
import type { MetadataRows } from './metadataStore.ts';
import { planMetadata, type MetadataPlan, type PlanOptions } from './plan.ts';
import type { DesiredGroup, DesiredTopology } from './types.ts';

/**
 * A pause's commit plans this way: etcd's view, with the held groups wanted exactly as their rows
 * are, planned against the rows.
 */
export function planWithHeld(
  view: ClusterView,
  rows: MetadataRows,
  held: ReadonlySet<number>,
  options: PlanOptions,
): { desired: DesiredTopology; plan: MetadataPlan } {
  const desired = desiredWithHeld(view, rows, held);
  return { desired, plan: planMetadata(desired, rows.nodes, rows.poolinfo, options) };
}

/**
 * The desired topology of the view with the held groups frozen as their rows are: what the
 * reconcile and a pause's commit both plan from.
 */
export function desiredWithHeld(view: ClusterView, rows: MetadataRows, held: ReadonlySet<number>): DesiredTopology {
  return holdGroups(desiredTopology(view), rows, held);
}

/**
 * `desired` with each held group replaced by what its rows say now: its primary row kept, its
 * secondary rows wanted as they are.
 */
export function holdGroups(
  desired: DesiredTopology,
  current: MetadataRows,
  held: ReadonlySet<number>,
): DesiredTopology {
  if (held.size === 0) return desired;
  const pool = new Map(current.poolinfo.map((p) => [p.nodeid, p.poolinfo]));
  const frozen = (group: number): DesiredGroup => ({
    group,
    primary: { kind: 'keep', reason: 'on hold' },
    secondaries: current.nodes
      .filter((r) => r.groupid === group && r.noderole === 'secondary' && r.nodecluster === 'default')
      .map((r) => ({
        member: `nodeid ${r.nodeid}`,
        host: r.nodename,
        port: r.nodeport,
        poolinfo: pool.get(r.nodeid) ?? null,
      }))
      .sort((a, b) => (a.member < b.member ? -1 : a.member > b.member ? 1 : 0)),
  });
  const groups = desired.groups.filter((g) => !held.has(g.group));
  for (const g of held) groups.push(frozen(g));
  groups.sort((a, b) => a.group - b.group);
  return { groups, ignored: desired.ignored };
}
