// Which Citus groups a command acts on: `--group N`, `--all-groups`, or the cluster itself when it
// has no Citus groups; and the `--all-groups` option as the commands declare it.
import { Option } from 'commander';
import type { ClusterView } from '../dcs/types.ts';
import { ShardherdError } from '../errors.ts';
import type { ClusterSession } from './clusterSession.ts';

export interface GroupFlags {
  group?: number;
  allGroups?: boolean;
}

export function allGroupsOption(what: string): Option {
  return new Option('--all-groups', `${what} every Citus group of the cluster`).conflicts('group');
}

/**
 * The groups a writing command acts on. A Citus cluster needs `--group N` or `--all-groups`
 * (nothing is picked for the operator); a cluster without Citus takes neither.
 */
export async function targetGroups(
  session: ClusterSession,
  flags: GroupFlags,
  command: string,
): Promise<{ groups: (number | null)[]; view: ClusterView | null }> {
  if (flags.group !== undefined && flags.allGroups)
    throw new ShardherdError('give --group N or --all-groups, not both');
  if (!session.citus) {
    if (flags.allGroups) throw new ShardherdError(`--all-groups: cluster ${session.scope} has no Citus groups`);
    return { groups: [null], view: null };
  }
  if (flags.group !== undefined) return { groups: [flags.group], view: null };
  if (!flags.allGroups) throw new ShardherdError(`${command} of a Citus cluster needs --group N or --all-groups`);
  const view = await session.readAll();
  const groups = view.groups.filter((g) => g.config !== null || g.members.length > 0).map((g) => g.group);
  if (groups.length === 0) throw new ShardherdError(`--all-groups: cluster ${session.scope} has no groups in etcd`);
  return { groups, view };
}
