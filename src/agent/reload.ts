// Applying a re-read configuration file to the running agent (POST /reload, SIGHUP): what can
// change at runtime is copied into the live Config in place (the HA loop, PostgreSQL renderer
// and REST status all read that object); everything else is reported as needing an agent restart.
import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/types.ts';

export interface ReloadResult {
  /** Runtime settings that changed and now apply: `tags`, `postgresql.parameters`, ... */
  applied: string[];
  /** Settings that changed in the file but apply only when the agent restarts. */
  needsAgentRestart: string[];
}

/** Top-level and postgresql keys a running agent takes over from a reloaded file. */
const RUNTIME_POSTGRESQL_KEYS = [
  'parameters',
  'pg_hba',
  'pg_ctl_timeout',
  'basebackup',
  'use_pg_rewind',
  'remove_data_directory_on_rewind_failure',
  'remove_data_directory_on_diverged_timelines',
  'callbacks',
  'pre_promote',
] as const;

/** Copies what may change at runtime from `fresh` into `live`; `live` keeps its identity. */
export function applyReloadedConfig(live: Config, fresh: Config): ReloadResult {
  const applied: string[] = [];
  const needsAgentRestart: string[] = [];

  if (!isDeepStrictEqual(live.tags, fresh.tags)) {
    for (const key of Object.keys(live.tags)) delete live.tags[key];
    Object.assign(live.tags, fresh.tags);
    applied.push('tags');
  }
  if (live.log.level !== fresh.log.level) {
    live.log.level = fresh.log.level;
    applied.push('log.level');
  }
  // The log file is opened once, at the agent's start.
  for (const key of ['dir', 'file_size', 'file_num'] as const)
    if (live.log[key] !== fresh.log[key]) needsAgentRestart.push(`log.${key}`);
  const livePg = live.postgresql as unknown as Record<string, unknown>;
  const freshPg = fresh.postgresql as unknown as Record<string, unknown>;
  for (const key of RUNTIME_POSTGRESQL_KEYS) {
    if (!isDeepStrictEqual(livePg[key], freshPg[key])) {
      livePg[key] = freshPg[key];
      applied.push(`postgresql.${key}`);
    }
  }
  // The superuser's password applies to the agent's next connections, and a Citus group primary
  // writes it into pg_dist_authinfo (citusRole.ts); other authentication changes need a restart.
  const superuser = live.postgresql.authentication.superuser;
  const password = fresh.postgresql.authentication.superuser.password;
  if (superuser.password !== password) {
    if (password === undefined) delete superuser.password;
    else superuser.password = password;
    applied.push('postgresql.authentication.superuser.password');
  }
  const runtime = new Set<string>(RUNTIME_POSTGRESQL_KEYS);
  for (const key of new Set([...Object.keys(livePg), ...Object.keys(freshPg)])) {
    if (!runtime.has(key) && !isDeepStrictEqual(livePg[key], freshPg[key])) needsAgentRestart.push(`postgresql.${key}`);
  }
  // The pooler beside the node is published with the next member key: it may change at runtime.
  if (live.citus !== null && fresh.citus !== null && !isDeepStrictEqual(live.citus.pooler, fresh.citus.pooler)) {
    if (fresh.citus.pooler === undefined) delete live.citus.pooler;
    else live.citus.pooler = fresh.citus.pooler;
    applied.push('citus.pooler');
  }
  applyPgbouncer(live, fresh, applied, needsAgentRestart);
  // Checked at each request (and the credentials sent with each call to another member).
  for (const key of ['authentication', 'allowlist', 'allowlist_include_members', 'extra_headers'] as const) {
    if (isDeepStrictEqual(live.restapi[key], fresh.restapi[key])) continue;
    if (fresh.restapi[key] === undefined) delete live.restapi[key];
    else Object.assign(live.restapi, { [key]: fresh.restapi[key] });
    applied.push(`restapi.${key}`);
  }
  for (const key of ['scope', 'namespace', 'name', 'restapi', 'etcd3', 'citus'] as const) {
    if (!isDeepStrictEqual(live[key], fresh[key])) needsAgentRestart.push(key);
  }
  return { applied, needsAgentRestart };
}

/** Pool settings and TLS files reach a running PgBouncer by SIGHUP; its binary and directory do not. */
const RUNTIME_PGBOUNCER_KEYS = ['pool_mode', 'default_pool_size', 'max_client_conn', 'tls'] as const;

function applyPgbouncer(live: Config, fresh: Config, applied: string[], needsAgentRestart: string[]): void {
  const was = live.pgbouncer;
  const now = fresh.pgbouncer;
  if (was === null || now === null) {
    // Adding or removing the section starts or ends a process: the agent's start and stop do that.
    if (was !== now) needsAgentRestart.push('pgbouncer');
    return;
  }
  for (const key of RUNTIME_PGBOUNCER_KEYS) {
    if (isDeepStrictEqual(was[key], now[key])) continue;
    if (now[key] === undefined) delete was[key];
    else Object.assign(was, { [key]: now[key] });
    applied.push(`pgbouncer.${key}`);
  }
  for (const key of ['bin', 'dir'] as const) if (was[key] !== now[key]) needsAgentRestart.push(`pgbouncer.${key}`);
}
