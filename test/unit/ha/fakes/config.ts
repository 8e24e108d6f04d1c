// A member's Config as the agent would load it: a Patroni-style settings object run through the
// real validation, so every default is the one the agent gets.
import type { Config } from '../../../../src/config/types.ts';
import { validateConfig } from '../../../../src/config/validate.ts';

export interface MemberConfigSpec {
  /** Member name; also the last octet of its address when `index` is absent. */
  name: string;
  /** Its addresses are 10.0.0.<index>:5432 (PostgreSQL) and :8008 (REST API). */
  index: number;
  scope?: string;
  /** `bootstrap.dcs` settings over ttl 30, loop_wait 10, retry_timeout 10, use_pg_rewind. */
  dcs?: Record<string, unknown>;
  tags?: Record<string, unknown>;
}

export function memberConfig(spec: MemberConfigSpec): Config {
  const host = `10.0.0.${spec.index}`;
  const result = validateConfig({
    scope: spec.scope ?? 'sim',
    namespace: 'service',
    name: spec.name,
    restapi: { listen: `${host}:8008` },
    etcd3: { hosts: ['10.0.0.100:2379'] },
    bootstrap: {
      dcs: {
        ttl: 30,
        loop_wait: 10,
        retry_timeout: 10,
        maximum_lag_on_failover: 1048576,
        postgresql: { use_pg_rewind: true, use_slots: true },
        ...spec.dcs,
      },
    },
    postgresql: {
      listen: `${host}:5432`,
      data_dir: `/fake/${spec.name}/data`,
      pgpass: `/fake/${spec.name}/pgpass`,
      authentication: { replication: { username: 'replicator' } },
    },
    ...(spec.tags && { tags: spec.tags }),
  });
  if (result.config === null) {
    throw new Error(
      `invalid member configuration: ${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    );
  }
  return result.config;
}
