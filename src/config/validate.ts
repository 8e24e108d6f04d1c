// Validation of a member configuration (parsed Patroni-style YAML, already merged with the
// environment) into a complete Config with defaults, collecting every problem and warning. Each
// section has its reader in a file of its own; the top-level settings (scope, name, namespace)
// and `log` are read here.
import type { ConfigProblem } from '../errors.ts';
import { readBootstrap } from './bootstrap.ts';
import { readCitus } from './citus.ts';
import { readEtcd3 } from './etcd3.ts';
import { describe, Findings, isMap, readString } from './findings.ts';
import * as K from './keys.ts';
import { readPgbouncer } from './pgbouncer.ts';
import { readPostgresql } from './postgresql.ts';
import { readRestapi } from './restapi.ts';
import { readTags } from './tags.ts';
import type { Config } from './types.ts';

export interface ValidationResult {
  /** Null when there are problems. */
  config: Config | null;
  problems: ConfigProblem[];
  warnings: string[];
}

/** A complete Config with defaults filled in, or null with every problem found. */
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

/** Log levels by the names Patroni (Python) and pino use, lower-cased. */
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

function readLog(value: unknown, f: Findings): Config['log'] | undefined {
  const map = K.readSection(value, 'log', K.LOG, f);
  if (!map) return undefined;
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
