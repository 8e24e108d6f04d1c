// `shardherd pause` and `shardherd resume`: Patroni's maintenance mode, `pause: true` in a
// group's `config` key (no failover, no restart, no demotion while it is set), written with a
// mod_revision compare; `--wait` follows the members' keys until each shows the new state.
import type { Command } from 'commander';
import { validateDynamicConfig } from '../config/dynamic.ts';
import type { JsonObject } from '../config/types.ts';
import type { GroupView } from '../dcs/types.ts';
import { groupOf } from '../dcs/view.ts';
import { ShardherdError } from '../errors.ts';
import { groupName, withSession, type ClusterSession } from './clusterSession.ts';
import { allGroupsOption, targetGroups, type GroupFlags } from './groupTargets.ts';
import { configOption, groupOption } from './readCluster.ts';

interface PauseFlags extends GroupFlags {
  config?: string;
  wait?: boolean;
}

const POLL_MS = 250;

/** The config key with maintenance mode set, or cleared (the key removed, as patronictl does). */
export function withPause(config: JsonObject, paused: boolean): JsonObject {
  const out: JsonObject = { ...config };
  if (paused) out.pause = true;
  else delete out.pause;
  return out;
}

/** Whether a config key puts the group in maintenance mode (as the agents read it). */
export function isPaused(config: JsonObject): boolean {
  return validateDynamicConfig(config).config.pause;
}

/** Members that do not show `paused` in their key yet, among those named in `waitingFor`. */
export function membersBehind(view: GroupView, waitingFor: readonly string[], paused: boolean): string[] {
  return view.members
    .filter((m) => waitingFor.includes(m.name) && (m.data.pause === true) !== paused)
    .map((m) => m.name);
}

async function readViews(session: ClusterSession, groups: (number | null)[], all: boolean): Promise<GroupView[]> {
  if (!all) return Promise.all(groups.map((g) => session.readGroup(g)));
  const cluster = await session.readAll();
  return groups.map((g) => groupOf(cluster, g));
}

/** Polls the groups' member keys until every member there at the start shows the state, or the deadline. */
async function waitForMembers(session: ClusterSession, views: GroupView[], paused: boolean): Promise<void> {
  const word = paused ? 'pause: true' : 'no pause';
  let seconds = 0;
  for (const v of views) {
    const dynamic = validateDynamicConfig(v.config?.value ?? {}).config;
    seconds = Math.max(seconds, dynamic.loop_wait + dynamic.retry_timeout + 2);
  }
  const waiting = new Map(views.map((v) => [v.group, v.members.map((m) => m.name)]));
  for (const v of views) {
    const names = waiting.get(v.group)!;
    process.stdout.write(
      `Waiting up to ${seconds} s for ${names.length > 0 ? names.join(', ') : 'no member'} ` +
        `(${groupName(v.group)}) to show ${word} in their member keys\n`,
    );
  }
  const deadline = Date.now() + seconds * 1000;
  let behind: string[] = [];
  // What the wait is still for, printed when it changes.
  let shown = [...waiting.values()].flat().join(', ');
  for (;;) {
    behind = [];
    for (const [group, names] of waiting) {
      const view = await session.readGroup(group);
      // A member whose key is gone (its agent stopped) has nothing left to show.
      const present = names.filter((n) => view.members.some((m) => m.name === n));
      waiting.set(group, present);
      behind.push(...membersBehind(view, present, paused));
    }
    if (behind.length === 0 || Date.now() >= deadline) break;
    if (behind.join(', ') !== shown) process.stdout.write(`Still waiting for ${behind.join(', ')}\n`);
    shown = behind.join(', ');
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  if (behind.length > 0)
    throw new ShardherdError(
      `${behind.join(', ')} did not show ${word} in their member keys within ${seconds} s: are their agents running?`,
    );
}

async function togglePause(paused: boolean, flags: PauseFlags): Promise<void> {
  const verb = paused ? 'pause' : 'resume';
  const state = paused ? 'paused' : 'resumed';
  await withSession({ configPath: flags.config, groupGiven: flags.group !== undefined }, async (session) => {
    const { groups } = await targetGroups(session, flags, verb);
    const views = await readViews(session, groups, flags.allGroups === true);
    for (const v of views)
      if (v.config === null)
        throw new ShardherdError(`${groupName(v.group)} of cluster ${session.scope} has no config key in etcd`);
    const changing = views.filter((v) => isPaused(v.config!.value) !== paused);
    const already = paused ? 'already paused' : 'not paused';
    for (const v of views)
      if (!changing.includes(v)) process.stderr.write(`${groupName(v.group)}: cluster management is ${already}\n`);
    if (changing.length === 0)
      throw new ShardherdError(
        `cluster management of ${views.map((v) => groupName(v.group)).join(', ')} is ${already}`,
      );

    const writes = changing.map((v) => ({
      group: v.group,
      value: withPause(v.config!.value, paused),
      modRevision: v.config!.modRevision,
    }));
    const written = await session.etcd('write the config key', () =>
      writes.length === 1
        ? session.dcs(writes[0]!.group).setConfig(writes[0]!.value, writes[0]!.modRevision)
        : session.dcs(writes[0]!.group).setConfigs(writes),
    );
    if (!written)
      throw new ShardherdError(`the config key changed while ${verb} was written (a concurrent change): run it again`);
    if (flags.wait) await waitForMembers(session, changing, paused);
    for (const v of changing)
      process.stdout.write(
        `Success: cluster management is ${state}${v.group === null ? '' : ` (${groupName(v.group)})`}\n`,
      );
  });
}

export function registerPause(program: Command): void {
  for (const paused of [true, false]) {
    program
      .command(paused ? 'pause' : 'resume')
      .description(
        paused
          ? 'maintenance mode: no automatic failover, restart or demotion in the group (pause: true in its config key)'
          : 'end maintenance mode: the agents manage PostgreSQL again',
      )
      .addOption(configOption())
      .addOption(groupOption('Citus group'))
      .addOption(allGroupsOption(paused ? 'pause' : 'resume'))
      .option('--wait', `wait until every member's key shows the new state`)
      .action((flags: PauseFlags) => togglePause(paused, flags));
  }
}
