// `shardherd restart [--group N] [member...]`: restart PostgreSQL on the chosen members (all by
// default) one after another through their REST APIs, now or at a scheduled time.
import type { Command } from 'commander';
import { parseSchedule } from '../api/restartRequest.ts';
import { ShardherdError } from '../errors.ts';
import {
  confirmPlan,
  parseRoleFilter,
  postToEach,
  postToMember,
  selectMembers,
  type PostResult,
  type RoleFilter,
  type TargetMember,
} from './memberTargets.ts';
import { configOption, groupOption, readCluster } from './readCluster.ts';

interface RestartFlags {
  config?: string;
  group?: number;
  role: RoleFilter;
  pending?: boolean;
  scheduled?: string;
  force?: boolean;
}

/** A member answers once PostgreSQL runs again; its own wait is bounded by pg_ctl_timeout. */
const RESTART_TIMEOUT_MS = 300_000;

export function registerRestart(program: Command): void {
  program
    .command('restart')
    .description('restart PostgreSQL on members (all members of the cluster or group when none is named)')
    .argument('[members...]', 'member names')
    .addOption(configOption())
    .addOption(groupOption())
    .option('-r, --role <role>', 'only members with this role: primary, replica or any', parseRoleFilter, 'any')
    .option('--pending', 'only members with a setting pending a restart')
    .option('--scheduled <time>', 'restart at this time (ISO 8601 with timezone) instead of now')
    .option('--force', 'do not ask for confirmation')
    .action(async (members: string[], flags: RestartFlags) => {
      const scheduled = flags.scheduled === undefined || flags.scheduled === 'now' ? null : flags.scheduled;
      if (scheduled !== null) {
        // Checked here too so a typo fails before anything is asked or sent.
        const parsed = parseSchedule(scheduled, 'restart', Date.now());
        if (!parsed.ok) throw new ShardherdError(parsed.message);
      }
      const reading = await readCluster({ configPath: flags.config, group: flags.group });
      const targets = selectMembers(reading.view, members, flags.role, reading.auth);
      await confirmPlan('restart', targets, flags.force === true, scheduled ? ` at ${scheduled}` : ' now');
      const body: Record<string, unknown> = {};
      if (flags.pending) body.restart_pending = true;
      if (flags.role !== 'any') body.role = flags.role;
      if (scheduled !== null) body.schedule = scheduled;
      const send = async (t: TargetMember): Promise<PostResult> => {
        if (scheduled !== null && flags.force && t.member.data.scheduled_restart) {
          // As patronictl does: with --force a new schedule replaces the old one.
          await postToMember(t, '/restart', undefined, 10_000, 'DELETE');
        }
        return postToMember(t, '/restart', body, RESTART_TIMEOUT_MS);
      };
      await postToEach(targets, send, {
        success: (t, r) => {
          if (r.status === 200) return `restart on member ${t.name}`;
          if (r.status === 202) return `restart scheduled on member ${t.name}`;
          return null;
        },
        failure: (t) => `restart on member ${t.name}`,
      });
    });
}
