// `shardherd reload [--group N] [member...]`: ask members (all by default) to re-read their
// configuration file and apply what can change at runtime.
import type { Command } from 'commander';
import { confirmPlan, postToMember, selectMembers } from './memberTargets.ts';
import { parseGroupOption, readCluster } from './readCluster.ts';

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
    .option(
      '-c, --config <file>',
      'configuration file or directory (default: $SHARDHERD_CONFIG, then $PATRONICTL_CONFIG_FILE)',
    )
    .option('--group <n>', 'only this Citus group', parseGroupOption)
    .option('--force', 'do not ask for confirmation')
    .action(async (members: string[], flags: ReloadFlags) => {
      const reading = await readCluster({ configPath: flags.config, group: flags.group });
      const targets = selectMembers(reading.view, members, 'any');
      await confirmPlan('reload', targets, flags.force === true);
      let failed = false;
      for (const t of targets) {
        const r = await postToMember(t, '/reload', undefined, 30_000);
        if (r.status === 200 || r.status === 202)
          process.stdout.write(`Success: reload on member ${t.name}: ${r.text}\n`);
        else {
          failed = true;
          process.stdout.write(
            `Failed: reload on member ${t.name}: ${r.status === 0 ? '' : `${r.status} `}${r.text}\n`,
          );
        }
      }
      if (failed) process.exitCode = 1;
    });
}
