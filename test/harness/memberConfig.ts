// The Patroni-style YAML configuration of one test cluster member: loopback addresses, small
// PostgreSQL settings and fast HA timing, so a real agent can run it on a shared test machine.

import { join } from 'node:path';
import YAML from 'yaml';

/** Tag values as a member configuration holds them; an undefined value leaves the tag out. */
export type TagValues = Record<string, string | number | boolean | undefined>;

export interface ClusterTiming {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
}

export interface MemberConfigInput {
  scope: string;
  name: string;
  /** Citus group, or null for a cluster without Citus. */
  group: number | null;
  /** The member's own directory: data_dir, pgpass and the unix socket live in it. */
  memberDir: string;
  pgPort: number;
  apiPort: number;
  etcdClientPort: number;
  timing: ClusterTiming;
  usePgRewind: boolean;
  /** Merged over the generated `bootstrap.dcs` (one level deep for `postgresql`). */
  dcsExtra: Record<string, unknown>;
  /** Merged into the member's own `postgresql` section. */
  postgresqlExtra?: Record<string, unknown>;
  /** Merged into the member's `restapi` section. */
  restapiExtra?: Record<string, unknown>;
  tags: TagValues;
  binDir: string;
  logLevel: string;
  /** A PgBouncer beside the member on this port, named in `citus.pooler`. */
  poolerPort?: number;
  /** The port others reach PostgreSQL on (`connect_address`), when not `pgPort` (a proxy). */
  connectPort?: number;
}

/** The database Citus lives in for clusters started with groups. */
export const CITUS_DATABASE = 'citus';

/** Passwords of the roles every test cluster creates (md5 over loopback TCP). */
export const CLUSTER_PASSWORDS = { superuser: 'super', replication: 'rep', rewind: 'rew' } as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `extra` over `base`, recursing into maps so `{postgresql: {parameters: {x: 1}}}` adds one parameter. */
function mergeDeep(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeDeep(current, value) : value;
  }
  return out;
}

/** The configuration as a plain object, in Patroni's layout. */
export function memberConfig(input: MemberConfigInput): Record<string, unknown> {
  const address = (port: number): string => `127.0.0.1:${port}`;
  const dcs = mergeDeep(
    {
      ttl: input.timing.ttl,
      loop_wait: input.timing.loopWait,
      retry_timeout: input.timing.retryTimeout,
      maximum_lag_on_failover: 1048576,
      postgresql: {
        use_pg_rewind: input.usePgRewind,
        use_slots: true,
        // Small: several clusters of several members share two cores and little memory.
        // fsync stays on so that a killed node loses only what PostgreSQL itself would lose.
        parameters: { max_connections: 50, shared_buffers: '16MB', wal_keep_size: '128MB' },
      },
    },
    input.dcsExtra,
  );
  return {
    scope: input.scope,
    namespace: 'service',
    name: input.name,
    restapi: {
      listen: address(input.apiPort),
      connect_address: address(input.apiPort),
      ...input.restapiExtra,
    },
    etcd3: { hosts: [address(input.etcdClientPort)] },
    ...(input.group !== null && {
      citus: {
        group: input.group,
        database: CITUS_DATABASE,
        ...(input.poolerPort !== undefined && { pooler: address(input.poolerPort) }),
      },
    }),
    bootstrap: { dcs, initdb: [{ encoding: 'UTF8' }, { locale: 'C' }] },
    postgresql: mergeDeep(
      {
        listen: address(input.pgPort),
        connect_address: address(input.connectPort ?? input.pgPort),
        data_dir: join(input.memberDir, 'data'),
        bin_dir: input.binDir,
        pgpass: join(input.memberDir, 'pgpass'),
        authentication: {
          superuser: { username: 'postgres', password: CLUSTER_PASSWORDS.superuser },
          replication: { username: 'replicator', password: CLUSTER_PASSWORDS.replication },
          rewind: { username: 'rewinder', password: CLUSTER_PASSWORDS.rewind },
        },
        pg_hba: [
          'local all all trust',
          'host all all 127.0.0.1/32 md5',
          'host replication replicator 127.0.0.1/32 md5',
        ],
        // Each member's socket in its own directory: members share a host but not a socket path.
        parameters: { unix_socket_directories: input.memberDir },
      },
      input.postgresqlExtra ?? {},
    ),
    tags: Object.fromEntries(Object.entries(input.tags).filter(([, value]) => value !== undefined)),
    log: { level: input.logLevel },
  };
}

/**
 * As YAML 1.1, the dialect the loader (like Patroni) reads: it quotes strings such as `off`
 * or `yes` that would otherwise come back as booleans.
 */
export function memberConfigYaml(input: MemberConfigInput): string {
  return YAML.stringify(memberConfig(input), { version: '1.1' });
}
