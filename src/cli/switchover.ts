// `shardherd switchover` and `shardherd failover`: find the group's leader and members in etcd,
// show what will happen and ask (unless --force), then POST the request to the member that
// answers it (the leader for a switchover, the candidate for a failover) and print its answer.
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { apiEndpoint } from '../dcs/memberUrl.ts';
import type { GroupView } from '../dcs/types.ts';
import { groupOf } from '../dcs/view.ts';
import { ShardherdError, errorText } from '../errors.ts';
import { httpRequest, type HttpAnswer } from '../httpClient.ts';
import { configOption, groupOption, readCluster } from './readCluster.ts';

export type ManualKind = 'switchover' | 'failover';

export interface ManualFlags {
  config?: string;
  group?: number;
  leader?: string;
  candidate?: string;
  scheduled?: string;
  force?: boolean;
}

/** What will be sent where, and the sentence the user confirms. */
export interface ManualPlan {
  url: string;
  body: Record<string, string>;
  summary: string;
}

/** Checks the flags against the group as etcd shows it; throws one readable line on a problem. */
export function planManualRequest(kind: ManualKind, view: GroupView, flags: ManualFlags): ManualPlan {
  const where = view.group === null ? 'the cluster' : `group ${view.group}`;
  const leader = view.leader?.name ?? null;
  const member = (name: string) => view.members.find((m) => m.name === name);
  const candidate = flags.candidate;
  if (candidate !== undefined && member(candidate) === undefined)
    throw new ShardherdError(`${candidate} is not a member of ${where}`);
  if (candidate !== undefined && candidate === leader)
    throw new ShardherdError(`${candidate} is already the leader of ${where}`);
  const scheduled = flags.scheduled === undefined || flags.scheduled === 'now' ? undefined : flags.scheduled;

  if (kind === 'failover') {
    if (candidate === undefined) throw new ShardherdError('failover needs --candidate: the member to promote');
    const url = member(candidate)?.data.api_url;
    if (!url) throw new ShardherdError(`${candidate} publishes no api_url`);
    return {
      url: apiEndpoint(url, '/failover'),
      body: { candidate },
      summary: `fail over ${where} to ${candidate}${leader ? `, demoting ${leader}` : ' (it has no leader)'}`,
    };
  }
  if (leader === null) throw new ShardherdError(`${where} has no leader: use failover --candidate to promote a member`);
  const from = flags.leader ?? leader;
  if (from !== leader) throw new ShardherdError(`${from} is not the leader of ${where} (${leader} is)`);
  const url = member(leader)?.data.api_url;
  if (!url) throw new ShardherdError(`leader ${leader} publishes no api_url`);
  return {
    url: apiEndpoint(url, '/switchover'),
    body: {
      leader,
      ...(candidate !== undefined ? { candidate } : {}),
      ...(scheduled !== undefined ? { scheduled_at: scheduled } : {}),
    },
    summary:
      `switch over ${where} from ${leader} to ${candidate ?? 'the healthiest replica'}` +
      (scheduled ? ` at ${scheduled}` : ' now'),
  };
}

/** One line per member: what the user sees before confirming. */
function describeGroup(view: GroupView): string {
  const leader = view.leader?.name ?? null;
  return view.members
    .map((m) => {
      const replication = m.data.replication_state ? ` (${m.data.replication_state})` : '';
      return `  ${m.name === leader ? '*' : ' '} ${m.name}  ${m.data.role}  ${m.data.state}${replication}`;
    })

    .join('\n');
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

async function run(kind: ManualKind, flags: ManualFlags): Promise<void> {
  const reading = await readCluster({ configPath: flags.config, group: flags.group });
  if (reading.citus && flags.group === undefined)
    throw new ShardherdError(`${kind} of a Citus cluster needs --group N`);
  const view = groupOf(reading.view, reading.citus ? (flags.group ?? null) : null);
  const plan = planManualRequest(kind, view, flags);
  if (flags.force !== true) {
    if (!process.stdin.isTTY)
      throw new ShardherdError(`not asking on a non-interactive input: pass --force to ${plan.summary}`);
    process.stderr.write(`${describeGroup(view)}\n`);
    if (!(await confirm(`Really ${plan.summary}?`))) throw new ShardherdError(`${kind} cancelled`);
  }
  let response: HttpAnswer;
  try {
    // The member answers once the new leader runs, or after about 20 s with the state it saw.
    response = await httpRequest(plan.url, { method: 'POST', json: plan.body, timeoutMs: 60_000, auth: reading.auth });
  } catch (err) {
    throw new ShardherdError(`cannot reach ${plan.url}: ${errorText(err)}`);
  }
  const text = response.text.replace(/\s+/g, ' ').trim();
  if (response.status < 200 || response.status > 299)
    throw new ShardherdError(`${kind} failed (HTTP ${response.status}): ${text}`);
  process.stdout.write(`${text}\n`);
}

export function registerSwitchover(program: Command): void {
  program
    .command('switchover')
    .description('hand the leader role of a group to a healthy replica, gracefully')
    .addOption(configOption())
    .addOption(groupOption('Citus group'))
    .option('--leader <name>', 'the current leader (checked)')
    .option('--candidate <name>', 'the member to take over (default: the healthiest replica)')
    .option('--scheduled <time>', 'ISO 8601 time with a timezone, or now')
    .option('--force', 'do not ask for confirmation')
    .action((flags: ManualFlags) => run('switchover', flags));
  program
    .command('failover')
    .description('promote a named member, also when the group has no leader')
    .addOption(configOption())
    .addOption(groupOption('Citus group'))
    .option('--candidate <name>', 'the member to promote')
    .option('--force', 'do not ask for confirmation')
    .action((flags: ManualFlags) => run('failover', flags));
}
