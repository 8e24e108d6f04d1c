// What `list -e` and `topology -e` add under a Citus table: the rebalancer's latest job and every
// group being removed, from the groups' `citus` keys and the coordinator manager's GET /citus.
import type { CitusStatusBody } from '../api/controlRoutes.ts';
import type { ClusterView } from '../dcs/types.ts';
import { fetchCoordinatorStatus } from './coordinatorStatus.ts';
import type { ClusterReading } from './readCluster.ts';

/** The footer lines; none when nothing joins or leaves and Citus has never rebalanced. */
export function scaleFooter(view: ClusterView, status: CitusStatusBody | string): string[] {
  const lines: string[] = [];
  const scale = typeof status === 'string' ? null : status.scale;
  const job = scale?.rebalance ?? null;
  if (job !== null) {
    const total = Object.values(job.counts).reduce((n, c) => n + c, 0);
    const since = job.startedAt === null ? '' : ` (started ${job.startedAt})`;
    lines.push(` Rebalance: job ${job.jobId} ${job.state}, ${job.counts.done ?? 0} of ${total} moves done${since}`);
  }
  for (const g of view.groups) {
    const removal = g.citus?.value.removal;
    if (g.group === null || removal === undefined) continue;
    const left = scale?.placements[String(g.group)];
    const placements = left === undefined ? '' : `, ${left} shard placement(s) left`;
    lines.push(` Removing group ${g.group}: ${removal.state}${placements}`);
  }
  if (scale?.waiting) lines.push(` Waiting: ${scale.waiting}`);
  if (typeof status === 'string' && lines.length > 0) lines.push(` (the coordinator's Citus manager: ${status})`);
  return lines;
}

/** The footer for a reading, asked from the coordinator only for an extended Citus listing. */
export async function scaleFooterFor(reading: ClusterReading, extended: boolean): Promise<string[]> {
  if (!extended || !reading.citus) return [];
  return scaleFooter(reading.view, await fetchCoordinatorStatus(reading.view));
}
