// `shardherd reinit [--group N] member...`: wipe the named replicas' data and clone them again
// from their leader (or a clonefrom member). The members must be named: this destroys data.
import type { Command } from 'commander';
import { ShardherdError } from '../errors.ts';
import { confirmPlan, postToEach, postToMember, selectMembers } from './memberTargets.ts';
import { configOption, groupOption, readCluster } from './readCluster.ts';

interface ReinitFlags {
  config?: string;
  group?: number;
  force?: boolean;
}

export function registerReinit(program: Command): void {
  program
    .command('reinit')
    .description('reinitialize members: remove their data directory and clone it again from the leader')
    .argument('<members...>', 'member names (never the leader)')
    .addOption(configOption())
    .addOption(groupOption())
    .option('--force', 'do not ask for confirmation (and cancel nothing: a running task still refuses)')
    .action(async (members: string[], flags: ReinitFlags) => {
      if (members.length === 0) throw new ShardherdError('name the members to reinitialize');
      const reading = await readCluster({ configPath: flags.config, group: flags.group });
      const targets = selectMembers(reading.view, members, 'any');
      await confirmPlan(
        'reinitialize',
        targets,
        flags.force === true,
        ' (their data directories are removed and cloned again)',
      );
      await postToEach(targets, (t) => postToMember(t, '/reinitialize', { force: flags.force === true }, 30_000), {
        success: (t, r) => (r.status === 200 ? `reinitialize for member ${t.name}` : null),
        failure: (t) => `reinitialize for member ${t.name}`,
      });
    });
}
