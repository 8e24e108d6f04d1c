// The shape of Shardherd's configuration after loading, validation and defaults.
// Field names follow Patroni's YAML so that a Patroni member config loads as it is.

export type Scalar = string | number | boolean;
export type JsonValue = Scalar | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface HostPort {
  host: string;
  port: number;
}

export interface UserAuth {
  username: string;
  password?: string;
}

/** Dynamic Citus settings, read from the coordinator group's `config` key. */
export interface CitusDynamicConfig {
  /** Pause coordinator-routed writes to a worker group whose primary stops answering the probes. */
  pause_on_worker_failure: boolean;
  /** Consecutive failed probes (every 500 ms) before the group is paused. */
  failure_probe_count: number;
  /** Seconds until such a pause rolls back without a new primary; null: the worker group's ttl + 10. */
  failure_pause_timeout: number | null;
  /** Start Citus's background rebalancer once per worker group that joins (docs/design.md, "Scale out and in"). */
  rebalance_on_join: boolean;
  /** `shard_transfer_mode` of the rebalances and drains the manager starts, as Citus names them. */
  shard_transfer_mode: ShardTransferMode;
}

/** Citus's `citus.shard_transfer_mode` values. */
export const SHARD_TRANSFER_MODES = ['auto', 'force_logical', 'block_writes'] as const;
export type ShardTransferMode = (typeof SHARD_TRANSFER_MODES)[number];

/** Dynamic settings: live in the group's `config` key, seeded from `bootstrap.dcs`. */
export interface DynamicConfig {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
  maximum_lag_on_failover: number;
  /** Seconds a crashed primary may take to start again before it gives the lock up; 0 = fail over at once. */
  primary_start_timeout: number;
  /**
   * Patroni's limit in seconds on a primary's stop before SIGKILL, in synchronous mode only (0: no
   * limit). Shardherd validates the value and keeps it in `config` but does not apply it yet.
   */
  primary_stop_timeout: number;
  /** Maintenance mode: no starts, stops or promotions; the leader keeps its lock. */
  pause: boolean;
  failsafe_mode: boolean;
  check_timeline: boolean;
  /** Patroni's `true`/`false` read as `on`/`off`; `quorum` is Patroni 4's quorum commit. */
  synchronous_mode: 'off' | 'on' | 'quorum';
  /** Without a synchronous standby, commits wait for one rather than run asynchronously. */
  synchronous_mode_strict: boolean;
  /** Synchronous standbys in `on` mode; acknowledgements a commit waits for in `quorum` mode. */
  synchronous_node_count: number;
  /** A standby lagging more bytes than this is not made synchronous; -1: no limit. */
  maximum_lag_on_syncnode: number;
  /** The coordinator's handling of a worker primary that stops answering (docs/design.md, "Worker failure"). */
  citus: CitusDynamicConfig;
  postgresql: {
    use_pg_rewind: boolean;
    use_slots: boolean;
    /**
     * As configured: PostgreSQL's own defaults for the command-line settings (max_connections
     * 100, max_wal_senders 10, ...) are not filled in here; the postgres layer adds them.
     */
    parameters: Record<string, Scalar>;
    /** Used when the local `postgresql.pg_hba` is not set (local settings win, as in Patroni). */
    pg_hba?: string[];
  };
}

/** One `bootstrap.initdb` item: a flag (`data-checksums`) or a one-key option (`{encoding: UTF8}`). */
export type InitdbOption = string | Record<string, Scalar>;
/** One `postgresql.basebackup` item, same form as initdb options. */
export type BasebackupOption = InitdbOption;

export interface Tags {
  nofailover: boolean;
  noloadbalance: boolean;
  clonefrom: boolean;
  nosync: boolean;
  nostream: boolean;
  failover_priority: number;
  /** Preference as a synchronous standby (higher first); 0: never synchronous. */
  sync_priority: number;
  /** User-defined tags are kept and published as they are. */
  [key: string]: Scalar;
}

/** When a callback runs: PostgreSQL started, stopped, restarted, reloaded, or changed role. */
export const CALLBACK_ACTIONS = ['on_start', 'on_stop', 'on_restart', 'on_reload', 'on_role_change'] as const;
export type CallbackAction = (typeof CALLBACK_ACTIONS)[number];

export interface PostgresqlConfig {
  /** Addresses PostgreSQL listens on (`listen_addresses`) and its port. */
  listen: { hosts: string[]; port: number };
  connect_address: HostPort;
  data_dir: string;
  /** Directory of PostgreSQL binaries; empty means "search PATH, then /usr/lib/postgresql/<ver>/bin". */
  bin_dir: string;
  /** Absolute path; defaults to `pgpass` in the agent user's home directory, as in Patroni. */
  pgpass: string;
  authentication: {
    superuser: UserAuth;
    replication: UserAuth;
    rewind?: UserAuth;
  };
  /** Local settings, applied over the dynamic ones; cluster-wide settings are dynamic only. */
  parameters: Record<string, Scalar>;
  /** Lines for pg_hba.conf; null leaves the file alone. */
  pg_hba: string[] | null;
  /** pg_basebackup options; `{checkpoint: 'fast'}` is added unless a checkpoint option is configured. */
  basebackup: BasebackupOption[];
  /** Seconds allowed for pg_ctl start/stop/promote. */
  pg_ctl_timeout: number;
  use_unix_socket: boolean;
  /** Local overrides of the dynamic `postgresql.use_pg_rewind`, when set. */
  use_pg_rewind?: boolean;
  remove_data_directory_on_rewind_failure: boolean;
  remove_data_directory_on_diverged_timelines: boolean;
  /** The program and arguments of each callback configured; the action, role and scope are appended. */
  callbacks: Partial<Record<CallbackAction, string[]>>;
  /** A fencing command run before a promotion; anything but exit status 0 cancels it. */
  pre_promote?: string[];
}

export interface CitusConfig {
  /** 0 is the coordinator group; 1..N are workers. */
  group: number;
  database: string;
  /**
   * The connection pooler beside this node, as other nodes reach it; published in the member key
   * (Patroni's `proxy_url`) and registered in the coordinator's `pg_dist_poolinfo`.
   */
  pooler?: HostPort;
}

/** How PgBouncer pools server connections; Citus's multi-statement transactions need `session`. */
export type PoolMode = 'session' | 'transaction' | 'statement';

/** The PgBouncer the agent runs beside its PostgreSQL; it listens on `citus.pooler`. */
export interface PgbouncerConfig {
  bin: string;
  pool_mode: PoolMode;
  default_pool_size: number;
  max_client_conn: number;
  /** Its ini, auth file, pid and log files and generated TLS files; absolute. */
  dir: string;
  /** Given key and certificate; absent: a self-signed pair generated once in `dir`. */
  tls?: { cert_file: string; key_file: string };
}

/** The REST API's TLS (Patroni's restapi.certfile, keyfile, ...). */
export interface RestapiTls {
  certfile: string;
  /** Absent when certfile holds the key too. */
  keyfile?: string;
  keyfile_password?: string;
  /** Client certificates are checked against it; members check each other's server certificates with it. */
  cafile?: string;
  ciphers?: string;
  /** `required`: no connection without a valid client certificate; `optional`: operations need one. */
  verify_client: 'none' | 'optional' | 'required';
}

export interface Config {
  scope: string;
  /** Without slashes, e.g. `service`; keys live under `/<namespace>/<scope>/`. */
  namespace: string;
  name: string;
  restapi: {
    listen: HostPort;
    connect_address: HostPort;
    authentication?: UserAuth;
    /** Who may call the operations: addresses, networks (CIDR) or host names; anyone when absent. */
    allowlist?: string[];
    /** The members' own REST hosts (every group's, on a Citus coordinator) may call the operations too. */
    allowlist_include_members?: boolean;
    /** With `certfile` the API is served over HTTPS (and published as https). */
    tls?: RestapiTls;
    /** Headers added to every answer (Patroni's http_extra_headers, and https_extra_headers over TLS). */
    extra_headers?: Record<string, string>;
  };
  etcd3: {
    hosts: string[];
    protocol: 'http' | 'https';
    username?: string;
    password?: string;
    cacert?: string;
    cert?: string;
    key?: string;
  };
  citus: CitusConfig | null;
  /** Shardherd's own section (Patroni has none); null: no managed PgBouncer. */
  pgbouncer: PgbouncerConfig | null;
  bootstrap: {
    /** Dynamic config written to `config` by whoever wins the initialize race. */
    dcs: DynamicConfig;
    initdb: InitdbOption[];
  };
  postgresql: PostgresqlConfig;
  tags: Tags;
  log: LogConfig;
}

/** Patroni's `log` section. */
export interface LogConfig {
  /** A pino level name (Patroni's DEBUG/INFO/WARNING/... are translated). */
  level: string;
  /** Absolute directory of the log file; null: logs go to stdout. */
  dir: string | null;
  /** Bytes a log file may hold before the next line starts a new one (Patroni's default 25000000). */
  file_size: number;
  /** Rotated files kept beside the current one (Patroni's default 4); 0 starts the one file over. */
  file_num: number;
}
