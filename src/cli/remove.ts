// `shardherd remove --group N`: deletes every key of a decommissioned Citus group (of the whole
// cluster without Citus), as `patronictl remove` does, after the operator typed the cluster name,
// the group, "Yes I am aware" and the leader's name if there is one. Refused while agents of the
// group still keep member keys alive (unless --force), and for the coordinator while workers exist.
import type { Command } from 'commander';
import type { ClusterView, GroupView } from '../dcs/types.ts';
import { groupOf } from '../dcs/view.ts';
import { ShardherdError } from '../errors.ts';
import { groupName, withSession } from './clusterSession.ts';
import { withPrompter, type Prompter } from './prompt.ts';
import { configOption, groupOption } from './readCluster.ts';

interface RemoveFlags {
  config?: string;
  group?: number;
  force?: boolean;
}

export const AWARE = 'Yes I am aware';

/** Names of the keys a group holds, for the listing shown before the questions. */
export function groupKeys(view: GroupView): string[] {
  const keys: string[] = [];
  const single = ['initialize', 'config', 'leader', 'sync', 'failover', 'history', 'status', 'failsafe'] as const;
  for (const name of single) if (view[name] !== null) keys.push(name);
  for (const m of view.members) keys.push(`members/${m.name}`);
  return keys;
}

/** Why the group must not be removed now; null when it may. */
export function removeRefusal(cluster: ClusterView, group: number | null, force: boolean): string | null {
  const where = groupName(group);
  const view = groupOf(cluster, group);
  if (groupKeys(view).length === 0) return `${where} has no keys in etcd: nothing to remove`;
  if (group === 0) {
    const others = cluster.groups.filter((g) => g.group !== 0 && groupKeys(g).length > 0).map((g) => g.group);
    if (others.length > 0)
      return `group 0 is the coordinator of worker groups ${others.join(', ')}: remove those first`;
  }
  // Member keys live on their agents' leases: one that is still there has a running agent.
  const live = view.members.filter((m) => m.lease !== '0').map((m) => m.name);
  if (live.length > 0 && !force)
    return (
      `${where} still has live member keys (${live.join(', ')}): their agents are running; ` +
      'stop them first, or pass --force'
    );
  return null;
}

/** Asks the questions; throws on the first answer that does not match. */
async function typedConfirmation(p: Prompter, scope: string, view: GroupView): Promise<void> {
  const where = view.group === null ? `cluster ${scope}` : `cluster ${scope} ${groupName(view.group)}`;
  if ((await p.ask('Please confirm the cluster name to remove:')) !== scope)
    throw new ShardherdError(`the cluster name typed is not ${scope}: nothing was removed`);
  if (view.group !== null && (await p.ask('Please confirm the Citus group to remove:')) !== String(view.group))
    throw new ShardherdError(`the group typed is not ${view.group}: nothing was removed`);
  const aware = await p.ask(`You are about to remove all information in etcd for ${where}, please type: "${AWARE}":`);
  if (aware !== AWARE) throw new ShardherdError(`you did not type "${AWARE}" exactly: nothing was removed`);
  const leader = view.leader?.name;
  if (leader !== undefined && (await p.ask(`${where} has a leader. Please type its name to continue:`)) !== leader)
    throw new ShardherdError(`you did not type the name of the leader (${leader}): nothing was removed`);
}

async function remove(flags: RemoveFlags): Promise<void> {
  await withSession({ configPath: flags.config, groupGiven: flags.group !== undefined }, async (session) => {
    if (session.citus && flags.group === undefined)
      throw new ShardherdError('remove of a Citus cluster needs --group N: the group to remove');
    const group = session.citus ? flags.group! : null;
    const cluster = await session.readAll();
    const refusal = removeRefusal(cluster, group, flags.force === true);
    if (refusal !== null) throw new ShardherdError(`not removing ${groupName(group)}: ${refusal}`);
    const view = groupOf(cluster, group);
    const members = view.members.map((m) => `  ${m.name} (${m.data.role}, ${m.data.state})`);
    process.stderr.write(
      `Cluster ${session.scope}, ${groupName(group)}: keys ${groupKeys(view).join(', ')}\n` +
        (members.length > 0 ? `${members.join('\n')}\n` : ''),
    );
    await withPrompter((p) => typedConfirmation(p, session.scope, view));
    await session.etcd(`remove the keys of ${groupName(group)}`, () => session.dcs(group).deleteGroup());
    process.stdout.write(`Removed every key of ${groupName(group)} of cluster ${session.scope}\n`);
  });
}

export function registerRemove(program: Command): void {
  program
    .command('remove')
    .description('delete every etcd key of a decommissioned Citus group (typed confirmation), as patronictl remove')
    .addOption(configOption())
    .addOption(groupOption('the Citus group to remove'))
    .option('--force', 'remove also while member keys of the group are alive (agents running)')
    .action((flags: RemoveFlags) => remove(flags));
}
