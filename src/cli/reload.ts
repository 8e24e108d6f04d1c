// `shardherd reload [--group N] [member...]`: ask members (all by default) to re-read their
// configuration file and apply what can change at runtime.
import type { Command } from 'commander';
import { confirmPlan, postToEach, postToMember, selectMembers } from './memberTargets.ts';
import { configOption, groupOption, readCluster } from './readCluster.ts';

interface ReloadFlags {
  config?: string;
  group?: number;
  force?: boolean;
}

export function registerReload(program: Command): void {
  program
    .command('reload')
    .description('reload the configuration file on members (all members of the cluster or group when none is named)')
    .argument('[members...]', 'member names')
    .addOption(configOption())
    .addOption(groupOption())
    .option('--force', 'do not ask for confirmation')
    .action(async (members: string[], flags: ReloadFlags) => {
      const reading = await readCluster({ configPath: flags.config, group: flags.group });
      const targets = selectMembers(reading.view, members, 'any', reading.auth);
      await confirmPlan('reload', targets, flags.force === true);
      await postToEach(targets, (t) => postToMember(t, '/reload', undefined, 30_000), {
        success: (t, r) => (r.status === 200 || r.status === 202 ? `reload on member ${t.name}: ${r.text}` : null),
        failure: (t) => `reload on member ${t.name}`,
      });
    });
}
