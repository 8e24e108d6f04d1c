// `shardherd show-config` and `shardherd edit-config`: a group's dynamic configuration (the
// `config` key) printed as YAML, and changed with -s/-p/--apply after a check against its rules
// and the server's pg_settings, a diff and a confirmation, written only if nobody changed it since.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import YAML from 'yaml';
import { changedParameters, isJsonObject, parseSetPair, type SetPair } from '../api/configEdit.ts';
import { indexSettings } from '../api/pgSettings.ts';
import type { JsonObject } from '../config/types.ts';
import { errorText, ShardherdError } from '../errors.ts';
import { groupName, withSession, type ClusterSession } from './clusterSession.ts';
import {
  editConfig,
  planGroup,
  problemsLine,
  restartLines,
  warningLines,
  type ConfigEdits,
  type GroupPlan,
} from './configPlan.ts';
import { configYaml } from './configYaml.ts';
import { fetchPgSettings } from './fetchPgSettings.ts';
import { allGroupsOption, targetGroups, type GroupFlags } from './groupTargets.ts';
import { confirmOrForce } from './prompt.ts';
import { configOption, groupOption } from './readCluster.ts';

interface EditFlags extends GroupFlags {
  config?: string;
  set?: string[];
  pg?: string[];
  apply?: string;
  force?: boolean;
  quiet?: boolean;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--apply FILE` (or `-` for stdin) as a map. */
function readApplyFile(file: string): JsonObject {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new ShardherdError(`--apply ${file}: cannot read it: ${errorText(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text, { version: '1.1' });
  } catch (err) {
    throw new ShardherdError(`--apply ${file}: not valid YAML: ${errorText(err).split('\n')[0]}`);
  }
  if (!isJsonObject(parsed)) throw new ShardherdError(`--apply ${file}: expected a map of settings`);
  return parsed;
}

function editsFrom(flags: EditFlags): ConfigEdits {
  const sets: SetPair[] = [
    ...(flags.set ?? []).map((pair) => parseSetPair(pair, '-s')),
    ...(flags.pg ?? []).map((pair) => parseSetPair(pair, '-p')),
  ];
  const apply = flags.apply === undefined ? null : readApplyFile(flags.apply);
  if (apply === null && sets.length === 0)
    throw new ShardherdError('nothing to change: give -s key=value, -p guc=value or --apply FILE');
  return { apply, sets };
}

/** One group's plan, with pg_settings read from the group's server when parameters change. */
async function planFor(session: ClusterSession, group: number | null, edits: ConfigEdits): Promise<GroupPlan> {
  const view = await session.readGroup(group);
  if (view.config === null)
    throw new ShardherdError(`${groupName(group)} of cluster ${session.scope} has no config key in etcd`);
  const changed = changedParameters(view.config.value, editConfig(view.config.value, edits));
  const settings = Object.keys(changed).length > 0 ? indexSettings(await fetchPgSettings(view)) : null;
  return planGroup(group, view.config, edits, settings);
}

async function writePlans(session: ClusterSession, plans: GroupPlan[]): Promise<void> {
  const written = await session.etcd('write the config key', () =>
    plans.length === 1
      ? session.dcs(plans[0]!.group).setConfig(plans[0]!.after, plans[0]!.modRevision)
      : session.dcs(plans[0]!.group).setConfigs(plans.map((p) => ({ ...p, value: p.after }))),
  );
  if (!written)
    throw new ShardherdError(
      `the config key of ${plans.map((p) => groupName(p.group)).join(', ')} changed since it was read ` +
        '(a concurrent change): nothing was written; run edit-config again',
    );
}

async function editConfigCommand(flags: EditFlags): Promise<void> {
  const edits = editsFrom(flags);
  await withSession({ configPath: flags.config, groupGiven: flags.group !== undefined }, async (session) => {
    const { groups } = await targetGroups(session, flags, 'edit-config');
    const plans: GroupPlan[] = [];
    for (const group of groups) plans.push(await planFor(session, group, edits));
    const problems = problemsLine(plans);
    if (problems !== null) throw new ShardherdError(`refusing to write the config key: ${problems}`);
    for (const line of warningLines(plans)) process.stderr.write(`${line}\n`);
    const changing = plans.filter((p) => p.diff.length > 0);
    if (changing.length === 0) {
      process.stdout.write('Not changed\n');
      return;
    }
    if (!flags.quiet) process.stdout.write(changing.map((p) => p.diff.join('\n') + '\n').join(''));
    if (flags.apply === '-' && !flags.force)
      throw new ShardherdError('--apply - read the changes from stdin, so nobody can confirm them: pass --force');
    await confirmOrForce('Apply these changes?', flags.force === true, 'edit-config cancelled: nothing was written');
    await writePlans(session, changing);
    const where = changing.every((p) => p.group === null)
      ? ''
      : ` in ${changing.map((p) => groupName(p.group)).join(', ')}`;
    process.stdout.write(`Configuration changed${where}\n`);
    for (const line of restartLines(changing)) process.stdout.write(`${line}\n`);
  });
}

export function registerConfigCommands(program: Command): void {
  program
    .command('show-config')
    .description("print a group's dynamic configuration (the config key) as YAML, as patronictl show-config does")
    .addOption(configOption())
    .addOption(groupOption('Citus group (default: citus.group of the configuration)'))
    .action(async (flags: { config?: string; group?: number }) => {
      await withSession({ configPath: flags.config, groupGiven: flags.group !== undefined }, async (session) => {
        const group = flags.group ?? session.configGroup;
        const view = await session.readGroup(group);
        if (view.config === null)
          throw new ShardherdError(`${groupName(view.group)} of cluster ${session.scope} has no config key in etcd`);
        process.stdout.write(configYaml(view.config.value) + '\n');
      });
    });

  program
    .command('edit-config')
    .description('change the dynamic configuration of a group (or of every group) after a check, a diff and a y/N')
    .addOption(configOption())
    .addOption(groupOption('Citus group'))
    .addOption(allGroupsOption('change'))
    .option('-s, --set <key=value>', 'set a dotted key to a YAML value (null deletes it); repeatable', collect)
    .option('-p, --pg <guc=value>', 'set postgresql.parameters.<guc>; repeatable', collect)
    .option('--apply <file>', 'merge a YAML file of settings (null deletes a key); - reads stdin')
    .option('--force', 'do not ask for confirmation')
    .option('-q, --quiet', 'do not show the diff')
    .action((flags: EditFlags) => editConfigCommand(flags));
}
