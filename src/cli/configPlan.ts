// What `shardherd edit-config` will do to one group's `config` key: the edited configuration,
// its diff and what the check found; and the text the command prints about it. Pure.
import { checkConfig, mergePatch, setPath, type ConfigCheck, type SetPair } from '../api/configEdit.ts';
import type { PgSetting } from '../api/pgSettings.ts';
import type { JsonObject } from '../config/types.ts';
import { groupName } from './clusterSession.ts';
import { configYaml } from './configYaml.ts';
import { unifiedDiff } from './unifiedDiff.ts';

/** The changes asked for on the command line, applied in patronictl's order. */
export interface ConfigEdits {
  /** `--apply`: merged first (maps merge, null deletes). */
  apply: JsonObject | null;
  /** `-s` and `-p`, in the order given. */
  sets: SetPair[];
}

export function editConfig(stored: JsonObject, edits: ConfigEdits): JsonObject {
  let config = edits.apply === null ? stored : mergePatch(stored, edits.apply);
  for (const pair of edits.sets) config = setPath(config, pair.path, pair.value);
  return config;
}

export interface GroupPlan {
  group: number | null;
  before: JsonObject;
  after: JsonObject;
  modRevision: string;
  /** Empty when nothing changes. */
  diff: string[];
  check: ConfigCheck;
}

export function planGroup(
  group: number | null,
  stored: { value: JsonObject; modRevision: string },
  edits: ConfigEdits,
  settings: ReadonlyMap<string, PgSetting> | null,
): GroupPlan {
  const after = editConfig(stored.value, edits);
  const name = group === null ? 'config' : `${groupName(group)} config`;
  const diff = unifiedDiff(configYaml(stored.value), configYaml(after), { from: name, to: `${name} (edited)` });
  return {
    group,
    before: stored.value,
    after,
    modRevision: stored.modRevision,
    diff,
    check: diff.length === 0 ? { problems: [], warnings: [], restart: [] } : checkConfig(stored.value, after, settings),
  };
}

function prefix(plan: GroupPlan, many: boolean): string {
  return many && plan.group !== null ? `${groupName(plan.group)}: ` : '';
}

/** Every problem of the plans as one line; null when there is none. */
export function problemsLine(plans: readonly GroupPlan[]): string | null {
  const many = plans.length > 1;
  const problems = plans.flatMap((p) => p.check.problems.map((text) => prefix(p, many) + text));
  return problems.length === 0 ? null : problems.join('; ');
}

export function warningLines(plans: readonly GroupPlan[]): string[] {
  const many = plans.length > 1;
  return plans.flatMap((p) => p.check.warnings.map((text) => `warning: ${prefix(p, many)}${text}`));
}

/** After the write: which parameters wait for a restart, and how to apply them. */
export function restartLines(plans: readonly GroupPlan[]): string[] {
  return plans
    .filter((p) => p.check.restart.length > 0)
    .map((p) => {
      const where = p.group === null ? '' : ` in ${groupName(p.group)}`;
      const option = p.group === null ? '' : ` --group ${p.group}`;
      return (
        `Pending restart${where}: ${p.check.restart.join(', ')} (context postmaster) takes effect when PostgreSQL ` +
        `restarts: shardherd restart${option} --pending`
      );
    });
}
