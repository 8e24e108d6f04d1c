// What each setting means, for the configuration reference (docs/configuration.md, written by
// `npm run docs` from this table together with the key tables of keys.ts, the tags of tags.ts,
// the variables of env.ts and the defaults the validation itself fills in). The generator refuses
// a key that keys.ts implements and this table does not explain, and the reverse, so the two
// cannot drift; a test compares the checked-in reference with a fresh one.
import * as K from './keys.ts';
import type { SectionKeys } from './keys.ts';
import { KNOWN_TAGS } from './tags.ts';

export interface SettingDoc {
  /** The value's form, e.g. `host:port`, `integer >= 1`. */
  type: string;
  text: string;
  /** The default in words, where the validation's own default is not a plain value (derived, computed). */
  default?: string;
}

export interface SectionDoc {
  /** Dotted YAML path of the section; '' is the top level. */
  path: string;
  /** Its keys as the validation knows them (implemented ones and Patroni's not implemented ones). */
  keys: SectionKeys;
  intro: string;
  settings: Readonly<Record<string, SettingDoc>>;
}

const USER_SETTINGS: Readonly<Record<string, SettingDoc>> = {
  username: { type: 'string', text: 'The role name.' },
  password: {
    type: 'string',
    text: 'Its password; written to the `pgpass` file for the agent and the tools it runs. Quote digits-only values.',
  },
};

export const SECTIONS: readonly SectionDoc[] = [
  {
    path: '',
    keys: K.TOP_LEVEL,
    intro: 'The top level of a member configuration: its identity and one section per subsystem.',
    settings: {
      scope: {
        type: 'string',
        text: 'The cluster name: every member of one Citus formation shares it (an etcd key segment).',
      },
      namespace: { type: 'string', text: 'The etcd key prefix; `/service/` and `service` mean the same.' },
      name: { type: 'string', text: "This member's name, unique in the cluster (an etcd key segment)." },
      restapi: { type: 'section', text: 'The REST API (see `restapi`).' },
      etcd3: { type: 'section', text: 'Where etcd (v3 API) is (see `etcd3`).' },
      citus: {
        type: 'section',
        text: 'Makes the cluster a Citus cluster; without it, one group without Citus (see `citus`).',
      },
      pgbouncer: { type: 'section', text: "Shardherd's own: a PgBouncer run beside PostgreSQL (see `pgbouncer`)." },
      bootstrap: { type: 'section', text: 'How a new cluster starts (see `bootstrap`).' },
      postgresql: { type: 'section', text: "The member's PostgreSQL (see `postgresql`)." },
      tags: { type: 'map', text: 'Tags published with the member (see `tags`).' },
      log: { type: 'section', text: 'Logging (see `log`).' },
    },
  },
  {
    path: 'restapi',
    keys: K.RESTAPI,
    intro: "The REST API: Patroni's status, health-check and operation endpoints (docs/rest-api.md).",
    settings: {
      listen: { type: 'host:port', text: 'Where the API listens (`0.0.0.0:8008` for every interface).' },
      connect_address: {
        type: 'host:port',
        text:
          'How peers, `shardherd` and patronictl reach the API (published as `api_url`); ' +
          'required when `listen` is a wildcard.',
        default: '`restapi.listen`',
      },
      authentication: {
        type: 'section',
        text:
          'Basic-auth credentials every operation (any request but GET, HEAD and OPTIONS) requires; ' +
          'members send them to each other, and `shardherd` sends those of its `-c` file.',
      },
      allowlist: {
        type: 'list of addresses, CIDR networks and host names',
        text:
          'Only these clients may call the operations (others get 403); host names are resolved at each such ' +
          'request. Status and health paths stay open.',
        default: 'anyone',
      },
      certfile: {
        type: 'path',
        text:
          'A PEM certificate (chain): the API is served over HTTPS and published as `https://`. Members show it ' +
          "to each other as their client certificate and check each other's against `cafile`, without host " +
          "names; `shardherd` checks host names too. Read at the agent's start.",
        default: 'none: plain HTTP',
      },
      keyfile: { type: 'path', text: "The certificate's private key.", default: 'in `certfile`' },
      keyfile_password: { type: 'string', text: 'The passphrase of an encrypted `keyfile`.', default: 'none' },
      cafile: {
        type: 'path',
        text: "The CA that client certificates and the other members' certificates must chain to.",
        default: "the system's CAs",
      },
      ciphers: { type: 'OpenSSL cipher list', text: 'The ciphers the server offers.', default: "node's" },
      verify_client: {
        type: 'none, optional or required',
        text:
          '`required`: no connection without a valid client certificate; `optional`: operations (any request ' +
          'but GET, HEAD and OPTIONS) need one, 403 otherwise.',
        default: 'none',
      },
      http_extra_headers: {
        type: 'map of header names to values',
        text: 'Added to every answer (`Strict-Transport-Security`, say).',
        default: 'none',
      },
      https_extra_headers: {
        type: 'map of header names to values',
        text: 'Added to every answer when the API is served over TLS, over `http_extra_headers`.',
        default: 'none',
      },
      allowlist_include_members: {
        type: 'boolean',
        text:
          "The hosts of the members' `api_url`s may call the operations too (on a Citus coordinator, every " +
          "group's), as their own calls to each other need.",
        default: 'false',
      },
    },
  },
  {
    path: 'restapi.authentication',
    keys: K.RESTAPI_AUTH,
    intro:
      'Both or neither; the same on every member of the cluster, as in Patroni (members call each other with their ' +
      'own). A reload applies a change at once.',
    settings: {
      username: { type: 'string', text: 'The user name.' },
      password: { type: 'string', text: 'The password.' },
    },
  },
  {
    path: 'etcd3',
    keys: K.ETCD3,
    intro: "The etcd cluster the member keeps its state in, through the v3 API (Patroni's key layout).",
    settings: {
      hosts: { type: 'list of host:port, or comma-separated', text: 'The etcd endpoints.' },
      host: { type: 'host:port', text: 'One endpoint; ignored when `hosts` is set.' },
      protocol: { type: '`http` or `https`', text: 'How to reach the endpoints.' },
      username: { type: 'string', text: 'etcd user; goes with `password`.' },
      password: { type: 'string', text: 'Its password.' },
      cacert: { type: 'path', text: "CA certificate that signed the endpoints' certificates." },
      cert: { type: 'path', text: 'Client certificate; goes with `key`.' },
      key: { type: 'path', text: 'Its private key.' },
    },
  },
  {
    path: 'citus',
    keys: K.CITUS,
    intro:
      "The member's Citus group. Each group fails over on its own; " +
      "the coordinator group's leader keeps `pg_dist_node`.",
    settings: {
      group: { type: 'integer >= 0', text: '0 is the coordinator group, 1..N are worker groups.' },
      database: { type: 'string', text: 'The database the citus extension lives in (created at bootstrap).' },
      pooler: {
        type: 'host:port',
        text:
          'The connection pooler beside this node as other nodes reach it: published as `proxy_url`, ' +
          "registered in the coordinator's `pg_dist_poolinfo`; where the managed PgBouncer listens.",
      },
    },
  },
  {
    path: 'pgbouncer',
    keys: K.PGBOUNCER,
    intro:
      "Shardherd's own section (Patroni has none): the agent runs PgBouncer beside PostgreSQL on `citus.pooler`, " +
      'restarts it when it dies and reloads it on `shardherd reload`. ' +
      "Needs `citus.pooler` and the superuser's password.",
    settings: {
      bin: { type: 'path', text: 'The pgbouncer program.' },
      pool_mode: {
        type: '`session`, `transaction` or `statement`',
        text: "Citus's multi-statement transactions need `session`.",
      },
      default_pool_size: { type: 'integer >= 1', text: 'Server connections per database and user.' },
      max_client_conn: { type: 'integer >= 1', text: 'Client connections accepted.' },
      dir: { type: 'path', text: 'Its ini, auth file, pid, log and TLS files.', default: '`<data_dir>.pgbouncer`' },
      tls: {
        type: 'section',
        text: 'Certificate and key; without, a self-signed pair made once in `dir` with openssl.',
      },
    },
  },
  {
    path: 'pgbouncer.tls',
    keys: K.PGBOUNCER_TLS,
    intro: 'Both or neither.',
    settings: {
      cert_file: { type: 'path', text: 'The certificate PgBouncer presents.' },
      key_file: { type: 'path', text: 'Its private key.' },
    },
  },
  {
    path: 'bootstrap',
    keys: K.BOOTSTRAP,
    intro: 'Read by the member that creates a group (the one that wins the initialize race).',
    settings: {
      dcs: {
        type: 'section',
        text: "The dynamic configuration the group's `config` key starts from (see `bootstrap.dcs`).",
      },
      initdb: {
        type: 'list of flags and one-key maps',
        text: 'initdb options, as Patroni: `- data-checksums`, `- encoding: UTF8`.',
        default: 'none',
      },
    },
  },
  {
    path: 'bootstrap.dcs',
    keys: K.DYNAMIC,
    intro:
      "Dynamic settings: written to the group's `config` key at bootstrap; afterwards the key is what every member " +
      'uses (change it with `shardherd edit-config`). Requires `loop_wait + 2*retry_timeout <= ttl`.',
    settings: {
      ttl: { type: 'integer >= 1', text: 'Seconds the leader key lives without a completed HA cycle.' },
      loop_wait: { type: 'integer >= 1', text: 'Seconds between HA cycles.' },
      retry_timeout: {
        type: 'integer >= 1',
        text: 'Seconds an etcd or PostgreSQL call may take before the cycle gives up.',
      },
      maximum_lag_on_failover: {
        type: 'bytes',
        text: 'A replica further behind the last leader position does not take over.',
      },
      primary_start_timeout: {
        type: 'seconds',
        text: 'How long a crashed primary may take to start again before failover; 0: at once.',
      },
      primary_stop_timeout: {
        type: 'seconds',
        text: "Patroni's stop limit in synchronous mode; validated and kept, not applied yet.",
      },
      master_start_timeout: {
        type: 'seconds',
        text: 'The pre-3.0 name of `primary_start_timeout` (read when that is absent).',
        default: '—',
      },
      master_stop_timeout: { type: 'seconds', text: 'The pre-3.0 name of `primary_stop_timeout`.', default: '—' },
      pause: {
        type: 'boolean',
        text: 'Maintenance mode (`shardherd pause`): no automatic failover, start, promotion or demotion.',
      },
      failsafe_mode: {
        type: 'boolean',
        text: 'A primary that loses etcd stays primary while every member accepts its `POST /failsafe`.',
      },
      check_timeline: { type: 'boolean', text: "Patroni's setting; validated and kept." },
      synchronous_mode: {
        type: '`off`, `on`, `quorum`, `true`, `false`',
        text: "Synchronous replication; Patroni's `true` is `on`.",
      },
      synchronous_mode_strict: { type: 'boolean', text: 'Without a synchronous standby, commits wait for one.' },
      synchronous_node_count: {
        type: 'integer >= 1',
        text: 'Synchronous standbys (`on`) or acknowledgements a commit waits for (`quorum`).',
      },
      maximum_lag_on_syncnode: {
        type: 'bytes, -1',
        text: 'A standby lagging more is not made synchronous; -1: no limit.',
      },
      citus: {
        type: 'section',
        text: 'Worker-failure handling, read from the coordinator group (see `bootstrap.dcs.citus`).',
      },
      postgresql: { type: 'section', text: 'Cluster-wide PostgreSQL settings (see `bootstrap.dcs.postgresql`).' },
    },
  },
  {
    path: 'bootstrap.dcs.citus',
    keys: K.DYNAMIC_CITUS,
    intro: "Shardherd's own; written to the `config` key only when they differ from the defaults.",
    settings: {
      pause_on_worker_failure: {
        type: 'boolean',
        text: 'Routed writes to a worker whose primary stops answering wait for the new primary instead of failing.',
      },
      failure_probe_count: { type: 'integer >= 1', text: 'Failed 500 ms probes before such a pause.' },
      failure_pause_timeout: {
        type: 'seconds',
        text: 'How long such a pause may last.',
        default: "the worker group's ttl + 10",
      },
      rebalance_on_join: {
        type: 'boolean',
        text: "Start Citus's background rebalancer once for each worker group that joins.",
      },
      shard_transfer_mode: {
        type: '`auto`, `force_logical`, `block_writes`',
        text: "How the rebalances and drains the manager starts move shards (Citus's `shard_transfer_mode`).",
      },
    },
  },
  {
    path: 'bootstrap.dcs.postgresql',
    keys: K.DYNAMIC_POSTGRESQL,
    intro: 'PostgreSQL settings every member of the group shares.',
    settings: {
      use_pg_rewind: { type: 'boolean', text: 'Rewind a former primary with pg_rewind instead of cloning it again.' },
      use_slots: { type: 'boolean', text: "Replication slots for the group's replicas." },
      parameters: {
        type: 'map of settings',
        text:
          'postgresql.conf settings for every member. Those that must be equal everywhere (`max_connections`, ' +
          "`max_wal_senders`, `wal_level`, ...) belong here, and are checked against Patroni's lower bounds.",
        default: 'none',
      },
      pg_hba: {
        type: 'list of lines',
        text: 'pg_hba.conf, used when a member has no `postgresql.pg_hba` of its own.',
        default: 'none',
      },
    },
  },
  {
    path: 'postgresql',
    keys: K.POSTGRESQL,
    intro: "This member's PostgreSQL, which the agent initializes, starts, stops, promotes and clones itself.",
    settings: {
      listen: { type: 'host[,host...]:port', text: 'listen_addresses and port.' },
      connect_address: {
        type: 'host:port',
        text: 'How other members and the coordinator reach this server (published as `conn_url`).',
        default: 'the one non-loopback host of `listen`',
      },
      data_dir: { type: 'path', text: 'The data directory; created by initdb or pg_basebackup.' },
      bin_dir: {
        type: 'path',
        text: 'Where the PostgreSQL programs are.',
        default: '`PATH`, then the newest `/usr/lib/postgresql/<v>/bin`',
      },
      pgpass: {
        type: 'path',
        text: 'The password file the agent writes for its tools.',
        default: "`pgpass` in the agent user's home",
      },
      authentication: { type: 'section', text: 'The roles the agent uses (see `postgresql.authentication`).' },
      parameters: {
        type: 'map of settings',
        text: "This member's own postgresql.conf settings, over the dynamic ones; cluster-wide ones are ignored here.",
        default: 'none',
      },
      pg_hba: {
        type: 'list of lines',
        text: 'pg_hba.conf, in order.',
        default: '`bootstrap.dcs.postgresql.pg_hba`, else the file is left alone',
      },
      basebackup: {
        type: 'list of flags and one-key maps',
        text:
          'pg_basebackup options for cloning a replica; `checkpoint: fast`, `wal-method: stream` and `progress` ' +
          'are added unless given (`no-estimate-size` spares the source its size estimate).',
      },
      pg_ctl_timeout: { type: 'seconds', text: 'Allowed for a start, stop or promotion.' },
      use_unix_socket: { type: 'boolean', text: 'Connect to the local server over its unix socket instead of TCP.' },
      use_pg_rewind: {
        type: 'boolean',
        text: "This member's own override of `bootstrap.dcs.postgresql.use_pg_rewind`.",
        default: 'the dynamic setting',
      },
      remove_data_directory_on_rewind_failure: { type: 'boolean', text: 'Clone again when pg_rewind fails.' },
      remove_data_directory_on_diverged_timelines: {
        type: 'boolean',
        text: 'Clone again when the timelines diverged.',
      },
      pre_promote: {
        type: 'command line',
        text:
          'A fencing command run, and waited for, after this member took the leader key and before it promotes ' +
          '(split as `callbacks` are, no arguments added). Any exit status but 0, or still running after `ttl` ' +
          'seconds, cancels the promotion: the member releases the key and stays out of the leader race for ' +
          '`ttl` seconds.',
        default: 'none',
      },
      callbacks: {
        type: 'section',
        text: 'Commands run when PostgreSQL starts, stops or changes role (see `postgresql.callbacks`).',
      },
    },
  },
  {
    path: 'postgresql.callbacks',
    keys: K.CALLBACKS,
    intro:
      'Each is a command line, split as a shell would quote it but not run by a shell; the agent runs it with ' +
      'three more arguments: the event (`on_start`, ...), the role (`primary` or `replica`) and the scope. ' +
      'A callback runs beside the agent, which does not wait for it; one still running when the next event ' +
      'comes is killed with its children (`on_reload` callbacks apart from the others). Its output goes to ' +
      "the agent's stdout and stderr; its exit status is logged. Reloading the configuration applies changes.",
    settings: {
      on_start: {
        type: 'command line',
        text: 'PostgreSQL started (also: first seen running after the agent started, or after a bootstrap).',
        default: 'none',
      },
      on_stop: { type: 'command line', text: 'The agent stopped PostgreSQL (not for a restart).', default: 'none' },
      on_restart: { type: 'command line', text: 'The agent restarted PostgreSQL in the same role.', default: 'none' },
      on_reload: { type: 'command line', text: "The agent reloaded PostgreSQL's configuration.", default: 'none' },
      on_role_change: {
        type: 'command line',
        text:
          'A replica was promoted (role `primary`), or a stopped primary started again as a replica ' +
          '(role `replica`, in place of `on_start`).',
        default: 'none',
      },
    },
  },
  {
    path: 'postgresql.authentication',
    keys: K.AUTHENTICATION,
    intro: 'Each role is a map of `username` and `password`.',
    settings: {
      superuser: {
        type: 'role',
        text: "The superuser the agent connects as; also written to the coordinator's `pg_dist_authinfo`.",
      },
      replication: { type: 'role', text: 'The replication user replicas stream as.' },
      rewind: { type: 'role', text: 'The user pg_rewind connects as.', default: 'the superuser' },
    },
  },
  { path: 'postgresql.authentication.superuser', keys: K.USER, intro: 'The superuser role.', settings: USER_SETTINGS },
  {
    path: 'postgresql.authentication.replication',
    keys: K.USER,
    intro: 'The replication role.',
    settings: USER_SETTINGS,
  },
  { path: 'postgresql.authentication.rewind', keys: K.USER, intro: 'The pg_rewind role.', settings: USER_SETTINGS },
  {
    path: 'log',
    keys: K.LOG,
    intro:
      'Logs are JSON lines on stdout (pretty when stdout is a terminal), or in `shardherd.log` under `dir`. ' +
      'Every line has `scope`, `group`, `member` and `role`, where they apply `action`, `reason` and `duration_ms`.',
    settings: {
      level: {
        type: 'DEBUG, INFO, WARNING, ERROR, CRITICAL (or trace, silent)',
        text: 'The least severe level written.',
      },
      dir: {
        type: 'path',
        text: 'Directory of the log file `shardherd.log` (created if missing); logs then go there, not to stdout.',
        default: 'none: stdout',
      },
      file_size: {
        type: 'integer >= 1 (bytes)',
        text: 'A line that would take `shardherd.log` past this size starts a new file; the old one becomes `.1`.',
      },
      file_num: {
        type: 'integer >= 0',
        text: 'Rotated files kept (`shardherd.log.1` newest); 0 starts the one file over.',
      },
    },
  },
];

/** Patroni's tags, with what each does; any other key is published as a custom tag. */
export const TAG_DOCS: Readonly<Record<(typeof KNOWN_TAGS)[number], SettingDoc>> = {
  nofailover: { type: 'boolean', text: 'Never takes the leader role.' },
  noloadbalance: { type: 'boolean', text: '`GET /replica` answers 503, so load balancers leave the member out.' },
  clonefrom: { type: 'boolean', text: 'Preferred as the source when a replica is cloned.' },
  nosync: { type: 'boolean', text: 'Never a synchronous standby.' },
  nostream: { type: 'boolean', text: "Patroni's tag; validated and published." },
  failover_priority: { type: 'integer >= 0', text: 'Among equal candidates the higher wins; 0 is `nofailover`.' },
  sync_priority: { type: 'integer >= 0', text: 'Preference as a synchronous standby (higher first); 0: never.' },
};
