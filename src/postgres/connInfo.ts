// Connection parameters, rendered as libpq conninfo strings (for primary_conninfo, pg_basebackup,
// pg_rewind) and as node-postgres client settings (for the agent's own queries).
import type { ClientConfig } from 'pg';

export interface ConnParams {
  host: string;
  port: number;
  user: string;
  /** Only for the agent's own connections; conninfo strings for tools use `passfile` instead. */
  password?: string;
  database?: string;
  passfile?: string;
  application_name?: string;
  sslmode?: string;
  connect_timeout?: number;
}

/** Quotes one libpq conninfo value: single quotes and backslashes escaped, empty and spaced values quoted. */
export function quoteConnValue(value: string): string {
  if (value !== '' && !/[\s'\\]/.test(value)) return value;
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * Renders libpq `key=value` pairs in a stable order. The password is left out on purpose: a
 * conninfo ends up in postgresql.conf and process lists, so tools read it from `passfile`.
 */
export function formatConnInfo(params: ConnParams): string {
  const keys = [
    'host',
    'port',
    'user',
    'dbname',
    'passfile',
    'application_name',
    'sslmode',
    'connect_timeout',
  ] as const;
  const values: Record<(typeof keys)[number], string | number | undefined> = {
    host: params.host,
    port: params.port,
    user: params.user,
    dbname: params.database,
    passfile: params.passfile,
    application_name: params.application_name,
    sslmode: params.sslmode,
    connect_timeout: params.connect_timeout,
  };
  const parts: string[] = [];
  for (const key of keys) {
    const value = values[key];
    if (value !== undefined) parts.push(`${key}=${quoteConnValue(String(value))}`);
  }
  return parts.join(' ');
}

/** Settings for a node-postgres Client. */
export function clientConfig(params: ConnParams): ClientConfig {
  return {
    host: params.host,
    port: params.port,
    user: params.user,
    password: params.password,
    database: params.database ?? 'postgres',
    application_name: params.application_name ?? 'shardherd',
    connectionTimeoutMillis: (params.connect_timeout ?? 5) * 1000,
  };
}
