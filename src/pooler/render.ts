// Pure rendering of the managed PgBouncer's files: pgbouncer.ini and its auth file, from the
// member configuration and the address the agent itself uses to reach its PostgreSQL.
import path from 'node:path';
import type { Config, HostPort, PgbouncerConfig, PoolMode, UserAuth } from '../config/types.ts';
import { PoolerError } from '../errors.ts';

/** First line of every file written, so a reader knows edits are overwritten. */
const MARKER = '; Managed by Shardherd: edits are overwritten.';

/** The files PgBouncer's settings name, all inside its `dir`. */
export interface PgbouncerPaths {
  dir: string;
  ini: string;
  authFile: string;
  pidFile: string;
  logFile: string;
  certFile: string;
  keyFile: string;
}

/** Everything the ini depends on; two equal settings render the same bytes. */
export interface PgbouncerSettings {
  paths: PgbouncerPaths;
  /** No `pgbouncer.tls`: a self-signed pair is made once at `paths.certFile`/`paths.keyFile`. */
  generateCertificate: boolean;
  /** `citus.pooler`: where clients (the coordinator among them) connect. */
  listen: HostPort;
  /** The local PostgreSQL, as the agent reaches it. */
  server: HostPort;
  poolMode: PoolMode;
  defaultPoolSize: number;
  maxClientConn: number;
  /** The only user in the auth file, and PgBouncer's admin. */
  superuser: Required<UserAuth>;
}

/** Generated key and certificate names, used when `pgbouncer.tls` is not configured. */
export const GENERATED_CERT = 'server.crt';
export const GENERATED_KEY = 'server.key';

export function pgbouncerPaths(config: PgbouncerConfig): PgbouncerPaths {
  const at = (name: string): string => path.join(config.dir, name);
  return {
    dir: config.dir,
    ini: at('pgbouncer.ini'),
    authFile: at('userlist.txt'),
    pidFile: at('pgbouncer.pid'),
    logFile: at('pgbouncer.log'),
    certFile: config.tls?.cert_file ?? at(GENERATED_CERT),
    keyFile: config.tls?.key_file ?? at(GENERATED_KEY),
  };
}

/**
 * The settings of the member's managed PgBouncer, null when it has none. `server` is how the
 * agent reaches its own PostgreSQL (its first listen address), so PgBouncer connects the same way
 * and the same pg_hba lines admit both.
 */
export function pgbouncerSettings(config: Config, server: HostPort): PgbouncerSettings | null {
  const pgb = config.pgbouncer;
  if (pgb === null) return null;
  const listen = config.citus?.pooler;
  const { username, password } = config.postgresql.authentication.superuser;
  // Validation refuses both; a Config built elsewhere may still lack them.
  if (listen === undefined) throw new PoolerError('pgbouncer', 'needs citus.pooler, the address it listens on');
  if (password === undefined) throw new PoolerError('pgbouncer', 'needs postgresql.authentication.superuser.password');
  return {
    paths: pgbouncerPaths(pgb),
    generateCertificate: pgb.tls === undefined,
    listen,
    server,
    poolMode: pgb.pool_mode,
    defaultPoolSize: pgb.default_pool_size,
    maxClientConn: pgb.max_client_conn,
    superuser: { username, password },
  };
}

/** A value in PgBouncer's connection string (`[databases]`): quoted when it has spaces or quotes. */
function connValue(value: string): string {
  if (value !== '' && !/[\s'\\]/.test(value)) return value;
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** PgBouncer's ini has no quoting; a newline would start a new setting, so none is let through. */
function iniValue(value: string | number): string {
  const s = String(value);
  if (/[\r\n]/.test(s)) throw new RangeError(`pgbouncer.ini value must be one line, got ${JSON.stringify(s)}`);
  return s;
}

export function renderPgbouncerIni(s: PgbouncerSettings): string {
  const settings: [string, string | number][] = [
    ['listen_addr', s.listen.host],
    ['listen_port', s.listen.port],
    ['unix_socket_dir', s.paths.dir],
    // The user's password is in the auth file in plain text: PgBouncer answers SCRAM with it and
    // logs in to PostgreSQL with whatever method pg_hba asks for (SCRAM or md5).
    ['auth_type', 'scram-sha-256'],
    ['auth_file', s.paths.authFile],
    ['admin_users', s.superuser.username],
    // Citus's coordinator-to-worker connections run multi-statement transactions: session by default.
    ['pool_mode', s.poolMode],
    ['default_pool_size', s.defaultPoolSize],
    ['max_client_conn', s.maxClientConn],
    // Citus connects with sslmode=require and refuses a pooler without TLS.
    ['client_tls_sslmode', 'allow'],
    ['client_tls_key_file', s.paths.keyFile],
    ['client_tls_cert_file', s.paths.certFile],
    ['pidfile', s.paths.pidFile],
    ['logfile', s.paths.logFile],
    ['syslog', 0],
    // What libpq and node-postgres clients send at startup; PgBouncer refuses unknown ones.
    ['ignore_startup_parameters', 'extra_float_digits,options'],
  ];
  const server = `host=${connValue(s.server.host)} port=${s.server.port}`;
  return [
    MARKER,
    '[databases]',
    `* = ${iniValue(server)}`,
    '',
    '[pgbouncer]',
    ...settings.map(([key, value]) => `${key} = ${iniValue(value)}`),
    '',
  ].join('\n');
}

/** PgBouncer's auth file: `"user" "password"`, a double quote doubled inside a value. */
export function renderAuthFile(user: Required<UserAuth>): string {
  const quote = (v: string): string => `"${iniValue(v).replace(/"/g, '""')}"`;
  return `${quote(user.username)} ${quote(user.password)}\n`;
}
