// `shardherd remove-group --group N`: takes a worker group out of a Citus formation (docs/design.md,
// "Scale out and in"). It asks the Citus manager for the removal by the group's `citus` key, shows
// the drain and the removal of its nodes as the manager carries them out, tells the operator to
// stop the group's agents, and deletes the group's keys once they have stopped. Every step is
// kept in etcd or Citus, so running it again after an interruption goes on where it stopped.
import type { Command } from 'commander';
import type { CitusStatusBody } from '../api/controlRoutes.ts';
import type { CitusMark, ClusterView, GroupView } from '../dcs/types.ts';
import { groupOf } from '../dcs/view.ts';
import { ShardherdError } from '../errors.ts';
import { withSession, type ClusterSession } from './clusterSession.ts';
import { fetchCoordinatorStatus } from './coordinatorStatus.ts';
import { confirmOrForce } from './prompt.ts';
import { configOption, groupOption } from './readCluster.ts';

interface RemoveGroupFlags {
  config?: string;
  group?: number;
  force?: boolean;
}

const POLL_MS = 1000;
const COORDINATOR_REFUSAL = 'group 0 is the coordinator group: it cannot be removed';

const hasKeys = (g: GroupView): boolean => g.leader !== null || g.members.length > 0 || g.config !== null;
const rowsOf = (status: CitusStatusBody, group: number) =>
  (status.metadata?.pg_dist_node ?? []).filter((n) => n.groupid === group);
const placementsOf = (status: CitusStatusBody, group: number): number => status.scale?.placements[String(group)] ?? 0;

/** Why group `group` must not be removed; null when it may (or its removal is under way already). */
export function removeGroupRefusal(cluster: ClusterView, group: number, status: CitusStatusBody): string | null {
  if (group === 0) return COORDINATOR_REFUSAL;
  const view = groupOf(cluster, group);
  const removal = view.citus?.value.removal;
  if (!hasKeys(view) && rowsOf(status, group).length === 0 && removal === undefined)
    return `group ${group} is unknown: it has no keys in etcd and no row in pg_dist_node`;
  if (removal !== undefined && removal.state !== 'draining') return null;
  const workers = new Set<number>();
  for (const g of cluster.groups) if (g.group !== null && g.group > 0 && hasKeys(g)) workers.add(g.group);
  for (const n of status.metadata?.pg_dist_node ?? []) if (n.groupid > 0) workers.add(n.groupid);
  const others = [...workers].filter((g) => g !== group && groupOf(cluster, g).citus?.value.removal === undefined);
  if (others.length === 0) return `group ${group} is the last worker group: its shards would have nowhere to go`;
  const placements = placementsOf(status, group);
  if (placements === 0) return null;
  // Read afresh by GET /citus: an operator may have set shouldhaveshards by hand.
  const takers = (status.scale?.takers ?? []).filter((g) => others.includes(g));
  if (takers.length === 0)
    return (
      `its drain cannot run: no other worker group takes shards (no registered primary with shouldhaveshards), ` +
      `and group ${group} holds ${placements} shard placement(s)`
    );
  const leader = view.members.find((m) => m.name === view.leader?.name);
  if (leader === undefined || leader.data.state !== 'running' || leader.data.role !== 'primary')
    return `its drain cannot run: group ${group} has no running primary to copy its ${placements} placement(s) from`;
  return null;
}

/** One line on where the removal stands, printed whenever it changes. */
export function progressLine(group: number, mark: CitusMark, status: CitusStatusBody | string): string {
  const state = mark.removal?.state ?? 'draining';
  if (typeof status === 'string') return `${state}: waiting for the coordinator's Citus manager: ${status}`;
  const waiting = status.scale?.waiting;
  if (state === 'draining') {
    const job = status.scale?.rebalance;
    const left = placementsOf(status, group);
    let line = `draining group ${group}: ${left} shard placement(s) left`;
    if (job !== null && job !== undefined) {
      const total = Object.values(job.counts).reduce((n, c) => n + c, 0);
      line += `; rebalance job ${job.jobId} ${job.state}, ${job.counts.done ?? 0} of ${total} moves done`;
    } else if (waiting) line += `; ${waiting}`;
    return line;
  }
  if (state === 'removing') {
    const rows = rowsOf(status, group).map((n) => `${n.noderole} ${n.nodename}:${n.nodeport}`);
    return `removing group ${group}'s nodes from pg_dist_node: ${rows.length > 0 ? rows.join(', ') : 'none left'}`;
  }
  return `group ${group} is out of pg_dist_node`;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Writes the removal request into the group's `citus` key (kept as it is when one is there). */
async function requestRemoval(session: ClusterSession, group: number, view: GroupView): Promise<void> {
  const current = view.citus ?? null;
  const mark: CitusMark = {
    ...current?.value,
    removal: { state: 'draining', requested_at: new Date().toISOString() },
  };
  const ok = await session.etcd(`ask for the removal of group ${group}`, () =>
    session.dcs(group).setCitusMark(group, mark, current?.modRevision ?? null),
  );
  if (!ok) throw new ShardherdError(`group ${group}'s citus key changed while asking for its removal: run again`);
}

/** Prints progress until the manager has taken the group out of pg_dist_node. */
async function followRemoval(session: ClusterSession, group: number): Promise<void> {
  let last = '';
  for (;;) {
    const cluster = await session.readAll();
    const mark = groupOf(cluster, group).citus?.value ?? {};
    if (mark.removal === undefined) throw new ShardherdError(`group ${group}'s removal request is gone from etcd`);
    const line = progressLine(group, mark, await fetchCoordinatorStatus(cluster));
    if (line !== last) process.stdout.write(`${line}\n`);
    last = line;
    if (mark.removal.state === 'removed') return;
    await sleep(POLL_MS);
  }
}

/** Waits for the group's agents to stop (their member keys to go), then deletes every key of the group. */
async function deleteKeysOnceStopped(session: ClusterSession, group: number): Promise<void> {
  let last = '';
  for (;;) {
    const view = await session.readGroup(group);
    const live = view.members.filter((m) => m.lease !== '0').map((m) => m.name);
    if (view.leader !== null) live.push(...(live.includes(view.leader.name) ? [] : [view.leader.name]));
    if (live.length === 0) break;
    const line = `stop the agents of group ${group} now; waiting for their keys to go: ${live.sort().join(', ')}`;
    if (line !== last) process.stdout.write(`${line}\n`);
    last = line;
    await sleep(POLL_MS);
  }
  await session.etcd(`remove the keys of group ${group}`, () => session.dcs(group).deleteGroup());
  process.stdout.write(`Removed group ${group} of cluster ${session.scope}: no node, placement or key of it is left\n`);
}

async function removeGroup(flags: RemoveGroupFlags): Promise<void> {
  if (flags.group === undefined) throw new ShardherdError('remove-group needs --group N: the worker group to remove');
  const group = flags.group;
  await withSession({ configPath: flags.config, groupGiven: true }, async (session) => {
    const cluster = await session.readAll();
    const view = groupOf(cluster, group);
    const removal = view.citus?.value.removal;
    if (removal?.state === 'removed') {
      process.stdout.write(`group ${group} is already out of pg_dist_node\n`);
      return deleteKeysOnceStopped(session, group);
    }
    if (group === 0) throw new ShardherdError(`not removing group 0: ${COORDINATOR_REFUSAL}`);
    const status = await fetchCoordinatorStatus(cluster);
    if (typeof status === 'string')
      throw new ShardherdError(`not removing group ${group}: cannot ask the coordinator's Citus manager: ${status}`);
    const refusal = removeGroupRefusal(cluster, group, status);
    if (refusal !== null) throw new ShardherdError(`not removing group ${group}: ${refusal}`);
    if (removal === undefined) {
      const members = view.members.map((m) => `${m.name} (${m.data.role}, ${m.data.state})`).join(', ');
      process.stderr.write(
        `Cluster ${session.scope}, group ${group}: ${members || 'no members'}; ` +
          `${placementsOf(status, group)} shard placement(s) move to the other worker groups, ` +
          `then its nodes leave pg_dist_node and pg_dist_poolinfo.\n`,
      );
      await confirmOrForce(`Remove group ${group}?`, flags.force === true, 'not removing: nothing was changed');
      await requestRemoval(session, group, view);
    } else {
      process.stdout.write(`going on with the removal of group ${group} asked for at ${removal.requested_at}\n`);
    }
    await followRemoval(session, group);
    await deleteKeysOnceStopped(session, group);
  });
}

export function registerRemoveGroup(program: Command): void {
  program
    .command('remove-group')
    .description(
      'take a worker group out of the Citus formation: drain its shards, remove its nodes, then its keys ' +
        'once its agents are stopped; run again to finish an interrupted removal',
    )
    .addOption(configOption())
    .addOption(groupOption('the worker group to remove'))
    .option('--force', 'do not ask for confirmation')
    .action((flags: RemoveGroupFlags) => removeGroup(flags));
}
