// Which keys each configuration section may hold: those Shardherd implements, those Patroni knows
// but Shardherd does not implement yet (one warning each), and everything else (a likely typo).
import { Findings, join, readMap, type RawMap } from './findings.ts';
import { CALLBACK_ACTIONS } from './types.ts';

export interface SectionKeys {
  /** Keys read by Shardherd. */
  implemented: readonly string[];
  /** Patroni keys Shardherd ignores for now, each with what its warning adds ('' for nothing). */
  notImplemented?: Readonly<Record<string, string>>;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 4)) + 1;
  for (const c of candidates) {
    const d = editDistance(key.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Warns once per key that is not implemented or not known at all; never a problem. */
export function checkKeys(
  map: RawMap,
  path: string,
  keys: SectionKeys,
  f: Findings,
  alsoAllowed: readonly string[] = [],
): void {
  const notImplemented = keys.notImplemented ?? {};
  for (const key of Object.keys(map)) {
    if (keys.implemented.includes(key) || alsoAllowed.includes(key)) continue;
    if (Object.hasOwn(notImplemented, key)) {
      const hint = notImplemented[key];
      f.warn(join(path, key), `not implemented yet by Shardherd; ignored${hint ? ` (${hint})` : ''}`);
      continue;
    }
    const suggestion = closest(key, [...keys.implemented, ...Object.keys(notImplemented)]);
    f.warn(join(path, key), `unknown key; ignored${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`);
  }
}

/** `value` as the map of section `path` with its keys checked; undefined (a problem recorded) when it is no map. */
export function readSection(value: unknown, path: string, keys: SectionKeys, f: Findings): RawMap | undefined {
  const map = readMap(value, path, f);
  if (map) checkKeys(map, path, keys, f);
  return map;
}

// What the warnings of several not implemented keys add.
const DYNAMIC_AT_TOP = 'a dynamic setting: it belongs in bootstrap.dcs or the `config` key';
const ETCD3_ONLY = 'Shardherd uses etcd3 only';
const HOSTS_LIST = 'list the endpoints in hosts';
const LOCAL_ONLY = 'a per-member setting: it belongs in the local postgresql section';

export const TOP_LEVEL: SectionKeys = {
  implemented: [
    'scope',
    'namespace',
    'name',
    'restapi',
    'etcd3',
    'citus',
    'pgbouncer',
    'bootstrap',
    'postgresql',
    'tags',
    'log',
  ],
  notImplemented: {
    ctl: 'patronictl settings',
    watchdog: '',
    consul: ETCD3_ONLY,
    etcd: `etcd v2 API; ${ETCD3_ONLY}`,
    exhibitor: ETCD3_ONLY,
    kubernetes: ETCD3_ONLY,
    raft: ETCD3_ONLY,
    zookeeper: ETCD3_ONLY,
    ttl: DYNAMIC_AT_TOP,
    loop_wait: DYNAMIC_AT_TOP,
    retry_timeout: DYNAMIC_AT_TOP,
    maximum_lag_on_failover: DYNAMIC_AT_TOP,
    synchronous_mode: DYNAMIC_AT_TOP,
    synchronous_mode_strict: DYNAMIC_AT_TOP,
    synchronous_node_count: DYNAMIC_AT_TOP,
    maximum_lag_on_syncnode: DYNAMIC_AT_TOP,
    standby_cluster: DYNAMIC_AT_TOP,
  },
};

export const RESTAPI: SectionKeys = {
  implemented: [
    'listen',
    'connect_address',
    'authentication',
    'allowlist',
    'allowlist_include_members',
    'certfile',
    'keyfile',
    'keyfile_password',
    'cafile',
    'ciphers',
    'verify_client',
    'http_extra_headers',
    'https_extra_headers',
  ],
  notImplemented: {
    request_queue_size: '',
  },
};

export const RESTAPI_AUTH: SectionKeys = { implemented: ['username', 'password'] };

export const ETCD3: SectionKeys = {
  implemented: ['host', 'hosts', 'protocol', 'username', 'password', 'cacert', 'cert', 'key'],
  notImplemented: {
    url: HOSTS_LIST,
    proxy: '',
    srv: HOSTS_LIST,
    srv_suffix: '',
    use_proxies: '',
    key_password: '',
    retry_timeout: 'etcd calls are bounded by the dynamic retry_timeout',
  },
};

export const CITUS: SectionKeys = { implemented: ['group', 'database', 'pooler'] };

/** Shardherd's own section: the PgBouncer the agent runs beside its PostgreSQL. */
export const PGBOUNCER: SectionKeys = {
  implemented: ['bin', 'pool_mode', 'default_pool_size', 'max_client_conn', 'dir', 'tls'],
};

export const PGBOUNCER_TLS: SectionKeys = { implemented: ['cert_file', 'key_file'] };

export const LOG: SectionKeys = {
  implemented: ['level', 'dir', 'file_size', 'file_num'],
  notImplemented: {
    traceback_level: '',
    format: 'logs are JSON lines',
    dateformat: '',
    max_queue_size: '',
    loggers: '',
  },
};

export const BOOTSTRAP: SectionKeys = {
  implemented: ['dcs', 'initdb'],
  notImplemented: {
    method: 'new clusters are created with initdb',
    users: 'create users in a post-bootstrap step of your own',
    post_bootstrap: '',
    post_init: '',
    pg_hba: 'use postgresql.pg_hba',
  },
};

export const DYNAMIC: SectionKeys = {
  implemented: [
    'ttl',
    'loop_wait',
    'retry_timeout',
    'maximum_lag_on_failover',
    'primary_start_timeout',
    'primary_stop_timeout',
    'master_start_timeout',
    'master_stop_timeout',
    'pause',
    'failsafe_mode',
    'check_timeline',
    'synchronous_mode',
    'synchronous_mode_strict',
    'synchronous_node_count',
    'maximum_lag_on_syncnode',
    'citus',
    'postgresql',
  ],
  notImplemented: {
    standby_cluster: '',
    slots: 'permanent replication slots',
    ignore_slots: '',
    member_slots_ttl: '',
  },
};

export const DYNAMIC_CITUS: SectionKeys = {
  implemented: [
    'pause_on_worker_failure',
    'failure_probe_count',
    'failure_pause_timeout',
    'rebalance_on_join',
    'shard_transfer_mode',
  ],
};

export const DYNAMIC_POSTGRESQL: SectionKeys = {
  implemented: ['use_pg_rewind', 'use_slots', 'parameters', 'pg_hba'],
  notImplemented: {
    pg_ident: '',
    recovery_conf: '',
    remove_data_directory_on_rewind_failure: '',
    remove_data_directory_on_diverged_timelines: '',
    connect_address: LOCAL_ONLY,
    listen: LOCAL_ONLY,
    data_dir: LOCAL_ONLY,
    config_dir: LOCAL_ONLY,
    bin_dir: LOCAL_ONLY,
    pgpass: LOCAL_ONLY,
    authentication: LOCAL_ONLY,
    proxy_address: LOCAL_ONLY,
  },
};

export const POSTGRESQL: SectionKeys = {
  implemented: [
    'listen',
    'connect_address',
    'data_dir',
    'bin_dir',
    'pgpass',
    'authentication',
    'parameters',
    'pg_hba',
    'basebackup',
    'pg_ctl_timeout',
    'use_unix_socket',
    'use_pg_rewind',
    'remove_data_directory_on_rewind_failure',
    'remove_data_directory_on_diverged_timelines',
    'callbacks',
    'pre_promote',
  ],
  notImplemented: {
    config_dir: 'the configuration lives in data_dir',
    proxy_address: '',
    pg_ident: '',
    create_replica_methods: 'replicas are cloned with pg_basebackup',
    recovery_conf: '',
    custom_conf: '',
    bin_name: '',
    use_unix_socket_repl: '',
    before_stop: '',
    use_slots: 'slots are switched on or off cluster-wide in bootstrap.dcs.postgresql.use_slots',
    replica_method: '',
  },
};

export const CALLBACKS: SectionKeys = { implemented: CALLBACK_ACTIONS };

export const AUTHENTICATION: SectionKeys = {
  implemented: ['superuser', 'replication', 'rewind'],
};

export const USER: SectionKeys = {
  implemented: ['username', 'password'],
  notImplemented: {
    sslmode: '',
    sslcert: '',
    sslkey: '',
    sslpassword: '',
    sslrootcert: '',
    sslcrl: '',
    sslcrldir: '',
    gssencmode: '',
    channel_binding: '',
  },
};
