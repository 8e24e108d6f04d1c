// `shardherd reinit [--group N] member...`: wipe the named replicas' data and clone them again
// from their leader (or a clonefrom member). The members must be named: this destroys data.
import type { Command } from 'commander';
import { ShardherdError } from '../errors.ts';
import { confirmPlan, postToMember, selectMembers } from './memberTargets.ts';
import { parseGroupOption, readCluster } from './readCluster.ts';

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
    .option(
      '-c, --config <file>',
      'configuration file or directory (default: $SHARDHERD_CONFIG, then $PATRONICTL_CONFIG_FILE)',
    )
    .option('--group <n>', 'only this Citus group', parseGroupOption)
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
      let failed = false;
      for (const t of targets) {
        const r = await postToMember(t, '/reinitialize', { force: flags.force === true }, 30_000);
        if (r.status === 200) process.stdout.write(`Success: reinitialize for member ${t.name}\n`);
        else {
          failed = true;
          process.stdout.write(
            `Failed: reinitialize for member ${t.name}: ${r.status === 0 ? '' : `${r.status} `}${r.text}\n`,
          );
        }
      }
      if (failed) process.exitCode = 1;
    });
}
