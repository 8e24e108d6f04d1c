// `PATCH /config` and `PUT /config` as Patroni answers them, over the group's `config` key: the
// new configuration is checked (the dynamic configuration's rules, changed parameters against the
// local server's pg_settings when it runs) and written only if the key did not change meanwhile.
import type { JsonObject } from '../config/types.ts';
import type { Versioned } from '../dcs/types.ts';
import { errorText } from '../errors.ts';
import { checkConfig, isJsonObject, mergePatch } from './configEdit.ts';
import { indexSettings, type PgSetting } from './pgSettings.ts';

/** What an update needs of the agent. */
export interface ConfigStore {
  /** The group's `config` key; null when it is absent. Throws when etcd cannot be read. */
  read(): Promise<Versioned<JsonObject> | null>;
  /** Writes the key if its mod revision is still `modRevision` ('0': it must not exist); false if not. */
  write(value: JsonObject, modRevision: string): Promise<boolean>;
  /** pg_settings of the local server; null when it does not run. */
  settings(): Promise<PgSetting[] | null>;
}

export type ConfigUpdateKind = 'patch' | 'replace';

export type ConfigUpdateAnswer =
  | {
      status: 200;
      config: JsonObject;
      /** Whether the key was written (false: the request changed nothing). */
      written: boolean;
      /** Changed parameters that need a restart of PostgreSQL. */
      restart: string[];
      warnings: string[];
    }
  | { status: number; message: string };

/** The configuration as it would be after the request: merged over the stored one, or the body. */
function candidate(kind: ConfigUpdateKind, stored: JsonObject, body: JsonObject): JsonObject {
  return kind === 'patch' ? mergePatch(stored, body) : body;
}

export async function updateConfig(
  kind: ConfigUpdateKind,
  body: unknown,
  store: ConfigStore,
): Promise<ConfigUpdateAnswer> {
  if (!isJsonObject(body)) return { status: 400, message: 'the request body must be a JSON object' };
  let stored: Versioned<JsonObject> | null;
  try {
    stored = await store.read();
  } catch (err) {
    return { status: 503, message: `cannot read the config key from etcd: ${errorText(err)}` };
  }
  if (stored === null && kind === 'patch')
    return { status: 503, message: 'the group has no dynamic configuration in etcd to patch' };
  const before = stored?.value ?? {};
  const after = candidate(kind, before, body);
  if (stored !== null && JSON.stringify(after) === JSON.stringify(before))
    return { status: 200, config: after, written: false, restart: [], warnings: [] };

  const rows = await store.settings();
  const check = checkConfig(before, after, rows === null ? null : indexSettings(rows));
  if (check.problems.length > 0) return { status: 400, message: `invalid configuration: ${check.problems.join('; ')}` };
  let written: boolean;
  try {
    written = await store.write(after, stored?.modRevision ?? '0');
  } catch (err) {
    return { status: 503, message: `cannot write the config key to etcd: ${errorText(err)}` };
  }
  if (!written) return { status: 409, message: 'the config key changed while the request was checked; try again' };
  return { status: 200, config: after, written: true, restart: check.restart, warnings: check.warnings };
}
