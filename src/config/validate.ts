// Validation of a member configuration (parsed Patroni-style YAML, already merged with the
// environment) into a complete Config with defaults, collecting every problem and warning. Each
// section has its reader in a file of its own; the top-level settings (scope, name, namespace)
// and `log` are read here.
import type { ConfigProblem } from '../errors.ts';
import { readBootstrap } from './bootstrap.ts';
import { readCitus } from './citus.ts';
import { readEtcd3 } from './etcd3.ts';
import path from 'node:path';
import { describe, Findings, isMap, readInt, readString } from './findings.ts';
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

/** Patroni's defaults for the log file's rotation. */
export const LOG_FILE_DEFAULTS = { file_size: 25_000_000, file_num: 4 } as const;

function readLog(value: unknown, f: Findings): Config['log'] | undefined {
  const map = K.readSection(value, 'log', K.LOG, f);
  if (!map) return undefined;
  const given = (key: string): boolean => map[key] !== undefined && map[key] !== null;
  let level: string | undefined = 'info';
  if (given('level')) {
    const s = readString(map.level, 'log.level', f);
    level = s === undefined ? undefined : LOG_LEVELS[s.toLowerCase()];
    if (s !== undefined && !level)
      f.problem(
        'log.level',
        `expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL (or trace, silent), got ${JSON.stringify(s)}`,
      );
  }
  let dir: string | null | undefined = null;
  if (given('dir')) {
    const s = readString(map.dir, 'log.dir', f, { nonEmpty: true });
    dir = s === undefined ? undefined : path.resolve(s);
  }
  const file_size = given('file_size')
    ? readInt(map.file_size, 'log.file_size', f, { min: 1 })
    : LOG_FILE_DEFAULTS.file_size;
  const file_num = given('file_num')
    ? readInt(map.file_num, 'log.file_num', f, { min: 0 })
    : LOG_FILE_DEFAULTS.file_num;
  if (level === undefined || dir === undefined || file_size === undefined || file_num === undefined) return undefined;
  return { level, dir, file_size, file_num };
}
