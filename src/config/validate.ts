// Validation of a member configuration (parsed Patroni-style YAML, already merged with the
// environment) into a complete Config with defaults, collecting every problem and warning.
import os from 'node:os';
import path from 'node:path';
import type { ConfigProblem } from '../errors.ts';
import { CLUSTER_WIDE_PARAMETERS, DEFAULT_DYNAMIC_CONFIG, MANAGED_PARAMETERS, readDynamicConfig } from './dynamic.ts';
import {
  describe,
  Findings,
  isMap,
  join,
  readBool,
  readInt,
  readMap,
  readScalar,
  readScalarMap,
  readString,
  readStringList,
  type RawMap,
} from './findings.ts';
import { formatHostPort, isWildcardHost, parseHostPort, parseListen } from './hostPort.ts';
import * as K from './keys.ts';
import { readPgbouncer } from './pgbouncer.ts';
import type {
  BasebackupOption,
  CitusConfig,
  Config,
  HostPort,
  InitdbOption,
  PostgresqlConfig,
  Scalar,
  Tags,
  UserAuth,
} from './types.ts';

export interface ValidationResult {
  /** Null when there are problems. */
  config: Config | null;
  problems: ConfigProblem[];
  warnings: string[];
}

const LOG_LEVELS: Readonly<Record<string, string>> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
  critical: 'fatal',
  silent: 'silent',
};

/** Options that Shardherd passes itself; Patroni refuses them too. */
const INITDB_NOT_ALLOWED = ['pgdata', 'nosync', 'pwfile', 'sync-only', 'version'];
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
/** A spread checkpoint delays the first replica of a fresh Citus primary by minutes (DESIGN §4). */
const FAST_CHECKPOINT: BasebackupOption = { checkpoint: 'fast' };

const KNOWN_TAGS = ['nofailover', 'noloadbalance', 'clonefrom', 'nosync', 'nostream', 'failover_priority'];

export function validateConfig(raw: unknown): ValidationResult {
  const f = new Findings();
  if (!isMap(raw)) {
    f.problem('', `expected a map of settings at the top level, got ${describe(raw)}`);
    return { config: null, problems: f.problems, warnings: f.warnings };
  }
  K.checkKeys(raw, '', K.TOP_LEVEL, f);

  const scope = requiredName(raw.scope, 'scope', f);
  const name = requiredName(raw.name, 'name', f);
  const namespace = readNamespace(raw.namespace, f);
  const restapi = readRestapi(raw.restapi, f);
  const etcd3 = readEtcd3(raw.etcd3, f);
  const citus = readCitus(raw.citus, f);
  const bootstrap = readBootstrap(raw.bootstrap, f);
  const postgresql = readPostgresql(raw.postgresql, f);
  const pgbouncer = readPgbouncer(raw.pgbouncer, citus, postgresql, f);
  const tags = readTags(raw.tags, f);
  const log = readLog(raw.log, f);

  const missing =
    !scope || !name || !namespace || !restapi || !etcd3 || citus === undefined || !postgresql || !tags || !log;
  if (f.problems.length > 0 || missing || pgbouncer === undefined) {
    if (f.problems.length === 0) f.problem('', 'invalid configuration'); // unreachable: every undefined has a problem
    return { config: null, problems: f.problems, warnings: f.warnings };
  }
  const config: Config = { scope, namespace, name, restapi, etcd3, citus, pgbouncer, bootstrap, postgresql, tags, log };
  return { config, problems: [], warnings: f.warnings };
}

/** scope and name become etcd key segments, so they must be non-empty and slash-free. */
export function requiredName(value: unknown, p: string, f: Findings): string | undefined {
  if (value === undefined || value === null) return f.problem(p, 'required');
  if (typeof value === 'number') return f.problem(p, `expected a string, got ${value} (quote it)`);
  const s = readString(value, p, f, { nonEmpty: true });
  if (s !== undefined && s.includes('/')) return f.problem(p, `must not contain "/", got ${JSON.stringify(s)}`);
  return s;
}

/** Patroni's `/service/` and `service` mean the same key prefix; keep the bare form. */
export function readNamespace(value: unknown, f: Findings): string | undefined {
  if (value === undefined || value === null) return 'service';
  const s = readString(value, 'namespace', f);
  if (s === undefined) return undefined;
  const bare = s
    .split('/')
    .filter((part) => part !== '')
    .join('/');
  if (bare === '') return f.problem('namespace', `must name a key prefix, got ${JSON.stringify(s)}`);
  return bare;
}

/** A connect address is what peers dial: a wildcard host can never be right. */
function connectAddress(value: unknown, p: string, f: Findings): HostPort | undefined {
  const parsed = parseHostPort(value, p);
  if (!parsed.ok) return f.problem(parsed.problem.path, parsed.problem.message);
  if (isWildcardHost(parsed.value.host)) {
    return f.problem(p, `must be an address other members can reach, not a wildcard, got ${JSON.stringify(value)}`);
  }
  return parsed.value;
}

function readRestapi(value: unknown, f: Findings): Config['restapi'] | undefined {
  if (value === undefined || value === null) return f.problem('restapi', 'required (at least restapi.listen)');
  const map = readMap(value, 'restapi', f);
  if (!map) return undefined;
  K.checkKeys(map, 'restapi', K.RESTAPI, f);
  let listen: HostPort | undefined;
  if (map.listen === undefined || map.listen === null) f.problem('restapi.listen', 'required (host:port)');
  else {
    const parsed = parseHostPort(map.listen, 'restapi.listen');
    if (parsed.ok) listen = parsed.value;
    else f.problem(parsed.problem.path, parsed.problem.message);
  }
  let connect: HostPort | undefined;
  if (map.connect_address !== undefined && map.connect_address !== null) {
    connect = connectAddress(map.connect_address, 'restapi.connect_address', f);
  } else if (listen) {
    if (isWildcardHost(listen.host)) {
      f.problem(
        'restapi.connect_address',
        `required when restapi.listen is a wildcard address (${formatHostPort(listen)})`,
      );
    } else connect = listen;
  }
  let authentication: UserAuth | undefined;
  if (map.authentication !== undefined && map.authentication !== null) {
    const auth = readMap(map.authentication, 'restapi.authentication', f);
    if (auth) {
      K.checkKeys(auth, 'restapi.authentication', K.RESTAPI_AUTH, f);
      const username =
        auth.username === undefined
          ? f.problem('restapi.authentication.username', 'required')
          : readString(auth.username, 'restapi.authentication.username', f, { nonEmpty: true });
      const password =
        auth.password === undefined
          ? f.problem('restapi.authentication.password', 'required')
          : readString(auth.password, 'restapi.authentication.password', f);
      if (username !== undefined && password !== undefined) authentication = { username, password };
    }
  }
  if (!listen || !connect) return undefined;
  return authentication ? { listen, connect_address: connect, authentication } : { listen, connect_address: connect };
}

export function readEtcd3(value: unknown, f: Findings): Config['etcd3'] | undefined {
  if (value === undefined || value === null)
    return f.problem(
      'etcd3',
      'required: Shardherd keeps its state in etcd (v3 API), e.g. etcd3: {hosts: [10.0.0.1:2379]}',
    );
  const map = readMap(value, 'etcd3', f);
  if (!map) return undefined;
  K.checkKeys(map, 'etcd3', K.ETCD3, f);

  let hostsPath = 'etcd3.hosts';
  let items: unknown[] | undefined;
  if (map.hosts !== undefined && map.hosts !== null) {
    if (map.host !== undefined) f.warn('etcd3.host', 'ignored because etcd3.hosts is set');
    if (typeof map.hosts === 'string') items = map.hosts.split(',').map((h) => h.trim());
    else if (Array.isArray(map.hosts)) items = map.hosts;
    else
      f.problem('etcd3.hosts', `expected a list of host:port or a comma-separated string, got ${describe(map.hosts)}`);
  } else if (map.host !== undefined && map.host !== null) {
    hostsPath = 'etcd3.host';
    items = [map.host];
  } else {
    f.problem('etcd3.hosts', 'required (a list of host:port)');
  }
  let hosts: string[] | undefined;
  if (items) {
    if (items.length === 0 || (items.length === 1 && items[0] === ''))
      f.problem(hostsPath, 'must name at least one etcd endpoint');
    else {
      const parsed = items.map((item, i) =>
        parseHostPort(item, hostsPath === 'etcd3.host' ? hostsPath : join(hostsPath, i)),
      );
      for (const r of parsed) if (!r.ok) f.problem(r.problem.path, r.problem.message);
      if (parsed.every((r) => r.ok)) hosts = parsed.map((r) => (r.ok ? formatHostPort(r.value) : ''));
    }
  }

  let protocol: 'http' | 'https' | undefined = 'http';
  if (map.protocol !== undefined && map.protocol !== null) {
    const s = readString(map.protocol, 'etcd3.protocol', f);
    if (s === 'http' || s === 'https') protocol = s;
    else
      protocol =
        s === undefined
          ? undefined
          : f.problem('etcd3.protocol', `expected "http" or "https", got ${JSON.stringify(s)}`);
  }
  const optional = (key: 'username' | 'password' | 'cacert' | 'cert' | 'key'): string | undefined =>
    map[key] === undefined || map[key] === null
      ? undefined
      : readString(map[key], join('etcd3', key), f, { nonEmpty: true });
  const username = optional('username');
  const password = optional('password');
  const cacert = optional('cacert');
  const cert = optional('cert');
  const key = optional('key');
  if ((map.username === undefined) !== (map.password === undefined)) {
    f.problem(
      map.username === undefined ? 'etcd3.username' : 'etcd3.password',
      'etcd3.username and etcd3.password go together',
    );
  }
  if ((map.cert === undefined) !== (map.key === undefined)) {
    f.problem(map.cert === undefined ? 'etcd3.cert' : 'etcd3.key', 'etcd3.cert and etcd3.key go together');
  }
  if (!hosts || !protocol) return undefined;
  const out: Config['etcd3'] = { hosts, protocol };
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;
  if (cacert !== undefined) out.cacert = cacert;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  return out;
}

/** null: not a Citus cluster; undefined: invalid (a problem was recorded). */
export function readCitus(value: unknown, f: Findings): CitusConfig | null | undefined {
  if (value === undefined || value === null) return null;
  const map = readMap(value, 'citus', f);
  if (!map) return undefined;
  K.checkKeys(map, 'citus', K.CITUS, f);
  const group =
    map.group === undefined || map.group === null
      ? f.problem('citus.group', 'required (0 for the coordinator, 1.. for workers)')
      : readInt(map.group, 'citus.group', f, { min: 0 });
  const database =
    map.database === undefined || map.database === null
      ? f.problem('citus.database', 'required (the database where the citus extension lives)')
      : readString(map.database, 'citus.database', f, { nonEmpty: true });
  let pooler: HostPort | undefined;
  if (map.pooler !== undefined && map.pooler !== null) {
    const parsed = parseHostPort(map.pooler, 'citus.pooler');
    if (!parsed.ok) f.problems.push(parsed.problem);
    else if (isWildcardHost(parsed.value.host))
      f.problem('citus.pooler', `must be an address other nodes can connect to, got ${formatHostPort(parsed.value)}`);
    else pooler = parsed.value;
    if (!parsed.ok || pooler === undefined) return undefined;
  }
  if (group === undefined || database === undefined) return undefined;
  return pooler === undefined ? { group, database } : { group, database, pooler };
}

/** initdb/pg_basebackup options: a list of flags and one-key maps, or Patroni's map form. */
function readToolOptions(
  value: unknown,
  p: string,
  notAllowed: readonly string[],
  f: Findings,
): InitdbOption[] | undefined {
  const items: unknown[] = isMap(value)
    ? Object.entries(value).map(([k, v]) => ({ [k]: v }))
    : Array.isArray(value)
      ? value
      : [];
  if (!isMap(value) && !Array.isArray(value)) return f.problem(p, `expected a list of options, got ${describe(value)}`);
  const out: InitdbOption[] = [];
  let ok = true;
  items.forEach((item, i) => {
    const ip = isMap(value) ? join(p, Object.keys(item as RawMap)[0]) : join(p, i);
    let option: string | undefined;
    if (typeof item === 'string' && item.trim() !== '') {
      option = item.trim();
      out.push(option);
    } else if (isMap(item) && Object.keys(item).length === 1) {
      const [[k, v]] = Object.entries(item);
      if (typeof v === 'string' || typeof v === 'number') {
        option = k;
        out.push({ [k]: v });
      } else {
        ok = false;
        f.problem(ip, `option ${k} needs a string or number value, got ${describe(v)}`);
      }
    } else {
      ok = false;
      f.problem(ip, `expected an option name or a one-key map {option: value}, got ${describe(item)}`);
    }
    if (option !== undefined && notAllowed.includes(option.replace(/^--/, ''))) {
      ok = false;
      f.problem(ip, `option ${option} is set by Shardherd itself and must not be configured`);
    }
  });
  return ok ? out : undefined;
}

function readBootstrap(value: unknown, f: Findings): Config['bootstrap'] {
  const map = readMap(value, 'bootstrap', f) ?? {};
  K.checkKeys(map, 'bootstrap', K.BOOTSTRAP, f);
  const dcs = readDynamicConfig(map.dcs, 'bootstrap.dcs', DEFAULT_DYNAMIC_CONFIG, f);
  const initdb =
    map.initdb === undefined || map.initdb === null
      ? []
      : (readToolOptions(map.initdb, 'bootstrap.initdb', INITDB_NOT_ALLOWED, f) ?? []);
  return { dcs, initdb };
}

function readUser(value: unknown, p: string, f: Findings, defaultUsername?: string): UserAuth | undefined {
  const map = readMap(value, p, f);
  if (!map) return undefined;
  K.checkKeys(map, p, K.USER, f);
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
  const map = readMap(value, p, f);
  if (!map) return undefined;
  K.checkKeys(map, p, K.AUTHENTICATION, f);
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

function readPostgresql(value: unknown, f: Findings): PostgresqlConfig | undefined {
  const p = 'postgresql';
  if (value === undefined || value === null)
    return f.problem(p, 'required (at least listen, data_dir and authentication)');
  const map = readMap(value, p, f);
  if (!map) return undefined;
  K.checkKeys(map, p, K.POSTGRESQL, f);
  const present = (key: string): boolean => map[key] !== undefined && map[key] !== null;

  let listen: PostgresqlConfig['listen'] | undefined;
  if (!present('listen')) f.problem('postgresql.listen', 'required (host:port)');
  else {
    const parsed = parseListen(map.listen, 'postgresql.listen');
    if (parsed.ok) listen = parsed.value;
    else f.problem(parsed.problem.path, parsed.problem.message);
  }
  const connect = present('connect_address')
    ? connectAddress(map.connect_address, 'postgresql.connect_address', f)
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
  };
  if (use_pg_rewind !== undefined) out.use_pg_rewind = use_pg_rewind;
  return out;
}

/** Patroni's tags; failover_priority 0 and nofailover true mean the same and must agree when both are set. */
function readTags(value: unknown, f: Findings): Tags | undefined {
  const map = readMap(value, 'tags', f);
  if (!map) return undefined;
  const bool = (key: string): boolean | undefined =>
    map[key] === undefined || map[key] === null ? undefined : readBool(map[key], join('tags', key), f);
  const nofailover = bool('nofailover');
  const priority =
    map.failover_priority === undefined || map.failover_priority === null
      ? undefined
      : readInt(map.failover_priority, 'tags.failover_priority', f, { min: 0 });
  if (nofailover !== undefined && priority !== undefined && nofailover === priority > 0) {
    f.problem(
      'tags.failover_priority',
      `conflicts with tags.nofailover: ${nofailover}; nofailover true means failover_priority 0 and false means a priority above 0, got ${priority}`,
    );
  }
  const tags: Tags = {
    nofailover: nofailover ?? priority === 0,
    noloadbalance: bool('noloadbalance') ?? false,
    clonefrom: bool('clonefrom') ?? false,
    nosync: bool('nosync') ?? false,
    nostream: bool('nostream') ?? false,
    failover_priority: priority ?? (nofailover ? 0 : 1),
  };
  for (const [key, v] of Object.entries(map)) {
    if (KNOWN_TAGS.includes(key) || v === null) continue;
    if (key === 'replicatefrom')
      f.warn(
        'tags.replicatefrom',
        'not implemented yet by Shardherd; replicas follow the leader (published as a plain tag)',
      );
    else {
      const near = KNOWN_TAGS.find((t) => t !== key && t.length > 4 && similar(t, key));
      if (near) f.warn(join('tags', key), `not a known tag; published as a custom tag (did you mean "${near}"?)`);
    }
    const s = readScalar(v, join('tags', key), f);
    if (s !== undefined) tags[key] = s;
  }
  return tags;
}

/** The same letters in any order, ignoring case and punctuation: catches `nofailvoer`, `no_failover`. */
function similar(a: string, b: string): boolean {
  const strip = (s: string): string => s.toLowerCase().replace(/[^a-z]/g, '');
  if (strip(a) === strip(b)) return true;
  return [...strip(a)].sort().join('') === [...strip(b)].sort().join('');
}

function readLog(value: unknown, f: Findings): Config['log'] | undefined {
  const map = readMap(value, 'log', f);
  if (!map) return undefined;
  K.checkKeys(map, 'log', K.LOG, f);
  if (map.level === undefined || map.level === null) return { level: 'info' };
  const s = readString(map.level, 'log.level', f);
  if (s === undefined) return undefined;
  const level = LOG_LEVELS[s.toLowerCase()];
  if (!level)
    return f.problem(
      'log.level',
      `expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL (or trace, silent), got ${JSON.stringify(s)}`,
    );
  return { level };
}
