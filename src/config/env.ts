// Environment overrides: SHARDHERD_* variables, and the PATRONI_* spelling of the same ones so a
// migrated deployment keeps working; the SHARDHERD_ spelling wins when both are set.
import YAML from 'yaml';
import type { RawMap } from './findings.ts';

/** Variable suffix -> dotted path of the setting it overrides. */
export const ENV_SETTINGS: Readonly<Record<string, string>> = {
  NAME: 'name',
  SCOPE: 'scope',
  NAMESPACE: 'namespace',
  CITUS_GROUP: 'citus.group',
  CITUS_DATABASE: 'citus.database',
  CITUS_POOLER: 'citus.pooler',
  RESTAPI_LISTEN: 'restapi.listen',
  RESTAPI_CONNECT_ADDRESS: 'restapi.connect_address',
  RESTAPI_USERNAME: 'restapi.authentication.username',
  RESTAPI_PASSWORD: 'restapi.authentication.password',
  ETCD3_HOSTS: 'etcd3.hosts',
  POSTGRESQL_LISTEN: 'postgresql.listen',
  POSTGRESQL_CONNECT_ADDRESS: 'postgresql.connect_address',
  POSTGRESQL_DATA_DIR: 'postgresql.data_dir',
  POSTGRESQL_BIN_DIR: 'postgresql.bin_dir',
  POSTGRESQL_PGPASS: 'postgresql.pgpass',
  SUPERUSER_USERNAME: 'postgresql.authentication.superuser.username',
  SUPERUSER_PASSWORD: 'postgresql.authentication.superuser.password',
  REPLICATION_USERNAME: 'postgresql.authentication.replication.username',
  REPLICATION_PASSWORD: 'postgresql.authentication.replication.password',
  REWIND_USERNAME: 'postgresql.authentication.rewind.username',
  REWIND_PASSWORD: 'postgresql.authentication.rewind.password',
  LOG_LEVEL: 'log.level',
  LOG_DIR: 'log.dir',
  LOG_FILE_SIZE: 'log.file_size',
  LOG_FILE_NUM: 'log.file_num',
};

const PREFIXES = ['SHARDHERD_', 'PATRONI_'] as const;

export interface EnvOverrides {
  /** A partial configuration to merge over the files. */
  overlay: RawMap;
  /** Dotted path -> the variable that set it, so a bad value can be blamed on the variable. */
  sources: Map<string, string>;
}

/** Patroni's list syntax: `a:1,b:2`, or a YAML list (`[a:1, b:2]`, `- a:1`). */
function parseList(value: string): unknown {
  const text = value.trim();
  if (!text.startsWith('[') && !text.startsWith('-')) return text;
  try {
    return YAML.parse(text, { version: '1.1' }) as unknown;
  } catch {
    return text; // validation then reports it as a malformed host list
  }
}

export function environmentOverrides(env: NodeJS.ProcessEnv): EnvOverrides {
  const overlay: RawMap = {};
  const sources = new Map<string, string>();
  for (const [suffix, dotted] of Object.entries(ENV_SETTINGS)) {
    // An empty variable counts as unset, as in Patroni.
    const variable = PREFIXES.map((prefix) => prefix + suffix).find((name) => (env[name] ?? '') !== '');
    if (variable === undefined) continue;
    const raw = env[variable] as string;
    const keys = dotted.split('.');
    let node = overlay;
    for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as RawMap;
    node[keys[keys.length - 1]] = suffix === 'ETCD3_HOSTS' ? parseList(raw) : raw;
    sources.set(dotted, variable);
  }
  return { overlay, sources };
}
