// The `postgresql` section: where the member's PostgreSQL listens and is reached, its data and
// binary directories, the users the agent logs in as, local parameters, pg_hba lines,
// pg_basebackup options and the pg_ctl and pg_rewind settings.
import os from 'node:os';
import path from 'node:path';
import { CLUSTER_WIDE_PARAMETERS, MANAGED_PARAMETERS } from './dynamic.ts';
import { Findings, join, readBool, readInt, readScalarMap, readString, readStringList } from './findings.ts';
import { splitCommand } from './commandLine.ts';
import { isWildcardHost, parseListen, readConnectAddress, recorded } from './hostPort.ts';
import * as K from './keys.ts';
import { readToolOptions } from './toolOptions.ts';
import {
  CALLBACK_ACTIONS,
  type BasebackupOption,
  type HostPort,
  type PostgresqlConfig,
  type Scalar,
  type UserAuth,
} from './types.ts';

/** pg_basebackup options Shardherd sets itself or that would change the copy's form; Patroni refuses them too. */
const BASEBACKUP_NOT_ALLOWED = [
  'pgdata',
  'format',
  'wal-method',
  'xlog-method',
  'gzip',
  'version',
  'compress',
  'dbname',
  'host',
  'port',
  'username',
  'password',
];
/**
 * pg_basebackup's default spread checkpoint delays the first replica of a fresh Citus primary by
 * minutes, and until a replica has streamed it is no failover candidate (docs/design.md, "Safety
 * rules of the HA loop").
 */
const FAST_CHECKPOINT: BasebackupOption = { checkpoint: 'fast' };

function readUser(value: unknown, p: string, f: Findings, defaultUsername?: string): UserAuth | undefined {
  const map = K.readSection(value, p, K.USER, f);
  if (!map) return undefined;
  let username: string | undefined;
  if (map.username === undefined || map.username === null) {
    username = defaultUsername ?? f.problem(join(p, 'username'), 'required');
  } else username = readString(map.username, join(p, 'username'), f, { nonEmpty: true });
  let password: string | undefined;
  if (map.password !== undefined && map.password !== null) {
    if (typeof map.password === 'number') f.problem(join(p, 'password'), 'expected a string, got a number (quote it)');
    else password = readString(map.password, join(p, 'password'), f);
  }
  if (username === undefined) return undefined;
  return password === undefined ? { username } : { username, password };
}

function readAuthentication(value: unknown, f: Findings): PostgresqlConfig['authentication'] | undefined {
  const p = 'postgresql.authentication';
  if (value === undefined || value === null) return f.problem(p, 'required (at least replication.username)');
  const map = K.readSection(value, p, K.AUTHENTICATION, f);
  if (!map) return undefined;
  const superuser = readUser(map.superuser ?? {}, join(p, 'superuser'), f, 'postgres');
  const replication =
    map.replication === undefined || map.replication === null
      ? f.problem(join(p, 'replication'), 'required (username of the replication user)')
      : readUser(map.replication, join(p, 'replication'), f);
  const rewind =
    map.rewind === undefined || map.rewind === null ? undefined : readUser(map.rewind, join(p, 'rewind'), f);
  if (!superuser || !replication) return undefined;
  return rewind ? { superuser, replication, rewind } : { superuser, replication };
}

/** Local parameters: the ones that must match cluster-wide are dynamic only, as in Patroni. */
function readLocalParameters(value: unknown, f: Findings): Record<string, Scalar> {
  const p = 'postgresql.parameters';
  const params = readScalarMap(value, p, f) ?? {};
  const out: Record<string, Scalar> = {};
  for (const [name, v] of Object.entries(params)) {
    const key = name.toLowerCase();
    if (MANAGED_PARAMETERS.includes(key))
      f.warn(join(p, name), 'set by Shardherd itself (from postgresql.listen and scope); ignored');
    else if (CLUSTER_WIDE_PARAMETERS.includes(key))
      f.warn(
        join(p, name),
        'must be equal on every member; set it in bootstrap.dcs.postgresql.parameters; ignored here',
      );
    else out[name] = v;
  }
  return out;
}

/** A command line split into the program and its arguments; undefined (a problem recorded) when it cannot be. */
function readCommand(value: unknown, path: string, f: Findings): string[] | undefined {
  const text = readString(value, path, f, { nonEmpty: true });
  if (text === undefined) return undefined;
  try {
    return splitCommand(text);
  } catch (err) {
    return f.problem(path, (err as Error).message);
  }
}

function readCallbacks(value: unknown, f: Findings): PostgresqlConfig['callbacks'] {
  const p = 'postgresql.callbacks';
  const map = K.readSection(value, p, K.CALLBACKS, f) ?? {};
  const out: PostgresqlConfig['callbacks'] = {};
  for (const action of CALLBACK_ACTIONS) {
    if (map[action] === undefined || map[action] === null) continue;
    const command = readCommand(map[action], join(p, action), f);
    if (command !== undefined) out[action] = command;
  }
  return out;
}

/** Derives the connect address from listen when listen names one usable host. */
function deriveConnectAddress(listen: { hosts: string[]; port: number }, f: Findings): HostPort | undefined {
  const usable = listen.hosts.filter((h) => !isWildcardHost(h));
  const preferred = usable.filter((h) => !/^(localhost|127\.|::1$)/.test(h));
  const pick =
    preferred.length === 1 ? preferred[0] : preferred.length === 0 && usable.length === 1 ? usable[0] : undefined;
  if (pick === undefined) {
    return f.problem(
      'postgresql.connect_address',
      `required: cannot derive one address from postgresql.listen (${listen.hosts.join(',')}:${listen.port})`,
    );
  }
  return { host: pick, port: listen.port };
}

export function readPostgresql(value: unknown, f: Findings): PostgresqlConfig | undefined {
  const p = 'postgresql';
  if (value === undefined || value === null)
    return f.problem(p, 'required (at least listen, data_dir and authentication)');
  const map = K.readSection(value, p, K.POSTGRESQL, f);
  if (!map) return undefined;
  const present = (key: string): boolean => map[key] !== undefined && map[key] !== null;

  const listen = present('listen')
    ? recorded(parseListen(map.listen, 'postgresql.listen'), f)
    : f.problem('postgresql.listen', 'required (host:port)');
  const connect = present('connect_address')
    ? readConnectAddress(map.connect_address, 'postgresql.connect_address', f)
    : listen
      ? deriveConnectAddress(listen, f)
      : undefined;
  const data_dir = present('data_dir')
    ? readString(map.data_dir, 'postgresql.data_dir', f, { nonEmpty: true })
    : f.problem('postgresql.data_dir', 'required');
  const bin_dir = present('bin_dir') ? readString(map.bin_dir, 'postgresql.bin_dir', f) : '';
  // Patroni's default: a file named pgpass in the home directory of the user running the agent.
  const pgpassRaw = present('pgpass')
    ? readString(map.pgpass, 'postgresql.pgpass', f, { nonEmpty: true })
    : path.join(os.homedir(), 'pgpass');
  const authentication = readAuthentication(map.authentication, f);
  const parameters = readLocalParameters(map.parameters, f);
  const pg_hba = present('pg_hba') ? (readStringList(map.pg_hba, 'postgresql.pg_hba', f) ?? null) : null;
  const callbacks = readCallbacks(map.callbacks, f);
  const pre_promote = present('pre_promote') ? readCommand(map.pre_promote, 'postgresql.pre_promote', f) : undefined;

  let basebackup: BasebackupOption[] | undefined = [FAST_CHECKPOINT];
  if (present('basebackup')) {
    basebackup = readToolOptions(map.basebackup, 'postgresql.basebackup', BASEBACKUP_NOT_ALLOWED, f);
    const mentionsCheckpoint = basebackup?.some(
      (o) => (typeof o === 'string' ? o : Object.keys(o)[0]).replace(/^--/, '') === 'checkpoint',
    );
    if (basebackup && !mentionsCheckpoint) basebackup = [...basebackup, FAST_CHECKPOINT];
  }
  const pg_ctl_timeout = present('pg_ctl_timeout')
    ? readInt(map.pg_ctl_timeout, 'postgresql.pg_ctl_timeout', f, { min: 1 })
    : 60;
  const bool = (key: string, dflt: boolean): boolean =>
    present(key) ? (readBool(map[key], join(p, key), f) ?? dflt) : dflt;
  const use_unix_socket = bool('use_unix_socket', false);
  const remove_data_directory_on_rewind_failure = bool('remove_data_directory_on_rewind_failure', false);
  const remove_data_directory_on_diverged_timelines = bool('remove_data_directory_on_diverged_timelines', false);
  const use_pg_rewind = present('use_pg_rewind')
    ? readBool(map.use_pg_rewind, 'postgresql.use_pg_rewind', f)
    : undefined;

  if (
    !listen ||
    !connect ||
    data_dir === undefined ||
    bin_dir === undefined ||
    pgpassRaw === undefined ||
    !authentication ||
    !basebackup ||
    pg_ctl_timeout === undefined
  ) {
    return undefined;
  }
  const out: PostgresqlConfig = {
    listen,
    connect_address: connect,
    data_dir,
    bin_dir,
    pgpass: path.resolve(pgpassRaw),
    authentication,
    parameters,
    pg_hba,
    basebackup,
    pg_ctl_timeout,
    use_unix_socket,
    remove_data_directory_on_rewind_failure,
    remove_data_directory_on_diverged_timelines,
    callbacks,
  };
  if (use_pg_rewind !== undefined) out.use_pg_rewind = use_pg_rewind;
  if (pre_promote !== undefined) out.pre_promote = pre_promote;
  return out;
}
