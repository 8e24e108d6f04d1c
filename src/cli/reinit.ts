// `shardherd reinit [--group N] member...`: wipe the named replicas' data and clone them again
// from their leader (or a clonefrom member). The members must be named: this destroys data.
import type { Command } from 'commander';
import { ShardherdError } from '../errors.ts';
import { confirmPlan, postToEach, postToMember, selectMembers, type TargetMember } from './memberTargets.ts';
import { fetchReinitStatus, waitForReinit } from './reinitWait.ts';
import { configOption, groupOption, readCluster } from './readCluster.ts';

interface ReinitFlags {
  config?: string;
  group?: number;
  force?: boolean;
  wait?: boolean;
}

export function registerReinit(program: Command): void {
  program
    .command('reinit')
    .description('reinitialize members: remove their data directory and clone it again from the leader')
    .argument('<members...>', 'member names (never the leader)')
    .addOption(configOption())
    .addOption(groupOption())
    .option('--force', 'do not ask for confirmation (and cancel nothing: a running task still refuses)')
    .option('--wait', 'wait until each member is cloned again, showing how far its pg_basebackup got')
    .action(async (members: string[], flags: ReinitFlags) => {
      if (members.length === 0) throw new ShardherdError('name the members to reinitialize');
      const reading = await readCluster({ configPath: flags.config, group: flags.group });
      const targets = selectMembers(reading.view, members, 'any', reading.auth);
      await confirmPlan(
        'reinitialize',
        targets,
        flags.force === true,
        ' (their data directories are removed and cloned again)',
      );
      const started: TargetMember[] = [];
      await postToEach(targets, (t) => postToMember(t, '/reinitialize', { force: flags.force === true }, 30_000), {
        success: (t, r) => {
          if (r.status !== 200) return null;
          started.push(t);
          return `reinitialize for member ${t.name}`;
        },
        failure: (t) => `reinitialize for member ${t.name}`,
      });
      if (flags.wait && started.length > 0)
        await waitForReinit(started, {
          status: fetchReinitStatus,
          write: (line) => process.stdout.write(`${line}\n`),
          sleep: (ms) => new Promise((done) => setTimeout(done, ms)),
        });
    });
}
