// Dynamic settings: Patroni's defaults, validation of `bootstrap.dcs` and of the group's `config`
// key, and the effective settings the HA loop runs with (stored values over defaults).
import type { ConfigProblem } from '../errors.ts';
import { Findings, join, readBool, readInt, readScalarMap, readStringList, type RawMap } from './findings.ts';
import { DYNAMIC, DYNAMIC_CITUS, DYNAMIC_POSTGRESQL, readSection, type SectionKeys } from './keys.ts';
import { SHARD_TRANSFER_MODES, type DynamicConfig, type JsonObject, type Scalar } from './types.ts';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Patroni 3.0.2's defaults for the settings Shardherd implements. */
export const DEFAULT_DYNAMIC_CONFIG: Readonly<DynamicConfig> = deepFreeze({
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: 1048576,
  primary_start_timeout: 300,
  // Patroni's default: 0 means "no limit" (Patroni never escalates the stop to SIGKILL).
  primary_stop_timeout: 0,
  pause: false,
  failsafe_mode: false,
  check_timeline: false,
  synchronous_mode: 'off',
  synchronous_mode_strict: false,
  synchronous_node_count: 1,
  maximum_lag_on_syncnode: -1,
  citus: {
    pause_on_worker_failure: true,
    failure_probe_count: 2,
    failure_pause_timeout: null,
    rebalance_on_join: false,
    shard_transfer_mode: 'auto',
  },
  postgresql: { use_pg_rewind: false, use_slots: true, parameters: {} },
});

export interface DynamicConfigResult {
  config: DynamicConfig;
  problems: ConfigProblem[];
  warnings: string[];
}

/**
 * PostgreSQL settings Shardherd passes on the postgres command line, as Patroni does. Some it
 * derives itself (ignored when configured); the others must be equal on every member, so they
 * are dynamic only, each with Patroni's lower bound.
 */
export const MANAGED_PARAMETERS: readonly string[] = [
  'listen_addresses',
  'port',
  'cluster_name',
  'hot_standby',
  'wal_log_hints',
];
const PARAMETER_MINIMUMS: Readonly<Record<string, number>> = {
  max_connections: 25,
  max_wal_senders: 3,
  wal_keep_segments: 1,
  max_prepared_transactions: 0,
  max_locks_per_transaction: 32,
  max_replication_slots: 4,
  max_worker_processes: 2,
};
/** Settings that must be the same on all members: only the dynamic configuration may set them. */
export const CLUSTER_WIDE_PARAMETERS: readonly string[] = [
  'wal_level',
  'track_commit_timestamp',
  'wal_keep_size',
  ...Object.keys(PARAMETER_MINIMUMS),
];

const WAL_LEVELS = ['hot_standby', 'replica', 'logical'];

/** Size in MB of a PostgreSQL size setting (plain numbers are MB for wal_keep_size). */
function sizeInMb(value: Scalar): number | undefined {
  const m = /^\s*(\d+)\s*(kB|MB|GB|TB)?\s*$/.exec(String(value));
  if (!m) return undefined;
  const factor = { kB: 1 / 1024, MB: 1, GB: 1024, TB: 1024 * 1024 }[m[2] ?? 'MB'] ?? 1;
  return Number(m[1]) * factor;
}

function readParameters(value: unknown, path: string, f: Findings): Record<string, Scalar> {
  const params = readScalarMap(value, path, f) ?? {};
  const out: Record<string, Scalar> = {};
  for (const [name, v] of Object.entries(params)) {
    const p = join(path, name);
    const key = name.toLowerCase();
    if (MANAGED_PARAMETERS.includes(key)) {
      f.warn(p, 'set by Shardherd itself (from postgresql.listen and scope); ignored');
      continue;
    }
    if (key in PARAMETER_MINIMUMS) {
      if (readInt(v, p, f, { min: PARAMETER_MINIMUMS[key] }) === undefined) continue;
    } else if (key === 'wal_level') {
      if (!WAL_LEVELS.includes(String(v).toLowerCase())) {
        f.problem(p, `expected one of ${WAL_LEVELS.join(', ')}, got ${JSON.stringify(v)}`);
        continue;
      }
    } else if (key === 'track_commit_timestamp') {
      if (readBool(v, p, f) === undefined) continue;
    } else if (key === 'wal_keep_size') {
      const mb = sizeInMb(v);
      if (mb === undefined || mb < 16) {
        f.problem(p, `expected a size of at least 16MB, got ${JSON.stringify(v)}`);
        continue;
      }
    }
    out[name] = v;
  }
  return out;
}

/** One section of the dynamic settings, opened by `openSection`. */
interface Section<T> {
  map: RawMap;
  /** The integer setting `key`, at least `min`, given under `source` (by default `key` itself). */
  int<K extends keyof T & string>(key: K, min: number, source?: string): T[K];
  /** The boolean setting `key`. */
  bool<K extends keyof T & string>(key: K): T[K];
}

/**
 * A section of the dynamic settings as a map, its keys checked. A setting it does not give takes
 * Patroni's default from `defaults`; one that is invalid is reported and takes `fallback`'s value.
 */
function openSection<T extends object>(
  raw: unknown,
  path: string,
  keys: SectionKeys,
  defaults: Readonly<T>,
  fallback: Readonly<T>,
  f: Findings,
): Section<T> {
  const map: RawMap = readSection(raw, path, keys, f) ?? {};
  const setting = <K extends keyof T & string>(
    key: K,
    source: string,
    read: (value: unknown, p: string) => unknown,
  ) => {
    const value = map[source];
    if (value === undefined || value === null) return defaults[key];
    return (read(value, join(path, source)) as T[K] | undefined) ?? fallback[key];
  };
  return {
    map,
    int: (key, min, source = key) => setting(key, source, (value, p) => readInt(value, p, f, { min })),
    bool: (key) => setting(key, key, (value, p) => readBool(value, p, f)),
  };
}

/**
 * Reads dynamic settings. A missing setting takes Patroni's default; an invalid one is reported
 * and replaced by `fallback`'s value, so the result is always complete and usable.
 */
export function readDynamicConfig(
  raw: unknown,
  path: string,
  fallback: Readonly<DynamicConfig>,
  f: Findings,
): DynamicConfig {
  const { map, int, bool } = openSection(raw, path, DYNAMIC, DEFAULT_DYNAMIC_CONFIG, fallback, f);
  // Patroni still reads the pre-3.0 names when the new ones are absent.
  const renamed = (key: 'primary_start_timeout' | 'primary_stop_timeout', old: string): number => {
    if (map[key] === undefined && map[old] !== undefined) {
      f.warn(join(path, old), `deprecated name; use ${key}`);
      return int(key, 0, old);
    }
    return int(key, 0);
  };

  const before = f.problems.length;
  let ttl = int('ttl', 1);
  let loop_wait = int('loop_wait', 1);
  let retry_timeout = int('retry_timeout', 1);
  if (loop_wait + 2 * retry_timeout > ttl) {
    // Only worth its own message when the three values were valid one by one.
    if (f.problems.length === before) {
      f.problem(
        join(path, 'ttl'),
        `loop_wait + 2*retry_timeout must not exceed ttl, ` +
          `got ${loop_wait} + 2*${retry_timeout} = ${loop_wait + 2 * retry_timeout} > ${ttl}`,
      );
    }
    ({ ttl, loop_wait, retry_timeout } = fallback);
  }

  const config: DynamicConfig = {
    ttl,
    loop_wait,
    retry_timeout,
    maximum_lag_on_failover: int('maximum_lag_on_failover', 0),
    primary_start_timeout: renamed('primary_start_timeout', 'master_start_timeout'),
    primary_stop_timeout: renamed('primary_stop_timeout', 'master_stop_timeout'),
    pause: bool('pause'),
    failsafe_mode: bool('failsafe_mode'),
    check_timeline: bool('check_timeline'),
    synchronous_mode: syncMode(map.synchronous_mode, join(path, 'synchronous_mode'), fallback.synchronous_mode, f),
    synchronous_mode_strict: bool('synchronous_mode_strict'),
    synchronous_node_count: int('synchronous_node_count', 1),
    maximum_lag_on_syncnode: int('maximum_lag_on_syncnode', -1),
    citus: readDynamicCitus(map.citus, join(path, 'citus'), fallback.citus, f),
    postgresql: readDynamicPostgresql(map.postgresql, join(path, 'postgresql'), fallback.postgresql, f),
  };
  return config;
}

/** A `synchronous_mode` as stored in a `config` key; anything unreadable counts as off. */
export function readSyncMode(value: unknown): DynamicConfig['synchronous_mode'] {
  return syncMode(value, 'synchronous_mode', 'off', new Findings());
}

/** `synchronous_mode`: Patroni's booleans (and their spellings) or `quorum`. */
function syncMode(
  value: unknown,
  path: string,
  fallback: DynamicConfig['synchronous_mode'],
  f: Findings,
): DynamicConfig['synchronous_mode'] {
  if (value === undefined || value === null) return DEFAULT_DYNAMIC_CONFIG.synchronous_mode;
  if (value === 'quorum') return 'quorum';
  if (value === 'on' || value === 'off') return value;
  if (typeof value === 'boolean' || typeof value === 'string') {
    const flag = readBool(value, path, new Findings());
    if (flag !== undefined) return flag ? 'on' : 'off';
  }
  f.problem(path, `must be on, off, quorum, true or false, got ${JSON.stringify(value)}`);
  return fallback;
}

type DynamicCitus = DynamicConfig['citus'];
type DynamicPostgresql = DynamicConfig['postgresql'];

function readDynamicCitus(raw: unknown, path: string, fallback: Readonly<DynamicCitus>, f: Findings): DynamicCitus {
  const { map, int, bool } = openSection(raw, path, DYNAMIC_CITUS, DEFAULT_DYNAMIC_CONFIG.citus, fallback, f);
  let mode = DEFAULT_DYNAMIC_CONFIG.citus.shard_transfer_mode;
  const rawMode = map.shard_transfer_mode;
  if (rawMode !== undefined && rawMode !== null) {
    const known = SHARD_TRANSFER_MODES.find((m) => m === rawMode);
    if (known !== undefined) mode = known;
    else {
      f.problem(
        join(path, 'shard_transfer_mode'),
        `must be ${SHARD_TRANSFER_MODES.join(', ')}, got ${JSON.stringify(rawMode)}`,
      );
      mode = fallback.shard_transfer_mode;
    }
  }
  return {
    pause_on_worker_failure: bool('pause_on_worker_failure'),
    failure_probe_count: int('failure_probe_count', 1),
    failure_pause_timeout: int('failure_pause_timeout', 1),
    rebalance_on_join: bool('rebalance_on_join'),
    shard_transfer_mode: mode,
  };
}

function readDynamicPostgresql(
  raw: unknown,
  path: string,
  fallback: Readonly<DynamicPostgresql>,
  f: Findings,
): DynamicPostgresql {
  const { map, bool } = openSection(raw, path, DYNAMIC_POSTGRESQL, DEFAULT_DYNAMIC_CONFIG.postgresql, fallback, f);
  const out: DynamicPostgresql = {
    use_pg_rewind: bool('use_pg_rewind'),
    use_slots: bool('use_slots'),
    parameters: readParameters(map.parameters, join(path, 'parameters'), f),
  };
  if (map.pg_hba !== undefined && map.pg_hba !== null) {
    const lines = readStringList(map.pg_hba, join(path, 'pg_hba'), f) ?? fallback.pg_hba;
    if (lines) out.pg_hba = lines;
  }
  return out;
}

/** Validates a dynamic configuration (e.g. an edited `config` value); invalid values take defaults. */
export function validateDynamicConfig(obj: unknown): DynamicConfigResult {
  const f = new Findings();
  const config = readDynamicConfig(obj, '', DEFAULT_DYNAMIC_CONFIG, f);
  return { config, problems: f.problems, warnings: f.warnings };
}

/**
 * The settings the HA loop runs with, with what was wrong in the stored value. With no `config`
 * key yet, the member's own `bootstrap.dcs`; otherwise the stored value over Patroni's defaults,
 * where a stored value that is invalid is reported and replaced by the bootstrap value.
 */
export function resolveDynamicConfig(stored: JsonObject | null, bootstrap: DynamicConfig): DynamicConfigResult {
  if (stored === null) return { config: structuredClone(bootstrap), problems: [], warnings: [] };
  const f = new Findings();
  const config = readDynamicConfig(stored, 'config', bootstrap, f);
  return { config, problems: f.problems, warnings: f.warnings };
}

/** `resolveDynamicConfig` without the findings, for callers that report them elsewhere. */
export function effectiveDynamicConfig(stored: JsonObject | null, bootstrap: DynamicConfig): DynamicConfig {
  return resolveDynamicConfig(stored, bootstrap).config;
}

/** Patroni's JSON for the `config` key (written compact by the DCS layer). */
export function dynamicConfigToJson(c: DynamicConfig): JsonObject {
  const postgresql: JsonObject = {
    use_pg_rewind: c.postgresql.use_pg_rewind,
    use_slots: c.postgresql.use_slots,
    parameters: { ...c.postgresql.parameters },
  };
  if (c.postgresql.pg_hba) postgresql.pg_hba = [...c.postgresql.pg_hba];
  const json: JsonObject = {
    ttl: c.ttl,
    loop_wait: c.loop_wait,
    retry_timeout: c.retry_timeout,
    maximum_lag_on_failover: c.maximum_lag_on_failover,
    primary_start_timeout: c.primary_start_timeout,
    primary_stop_timeout: c.primary_stop_timeout,
    failsafe_mode: c.failsafe_mode,
    check_timeline: c.check_timeline,
    // Patroni 3 reads a boolean; quorum is written as Patroni 4 writes it.
    synchronous_mode: c.synchronous_mode === 'quorum' ? 'quorum' : c.synchronous_mode === 'on',
    synchronous_mode_strict: c.synchronous_mode_strict,
    synchronous_node_count: c.synchronous_node_count,
    maximum_lag_on_syncnode: c.maximum_lag_on_syncnode,
    postgresql,
  };
  // patronictl writes `pause` only while paused; an absent key means "not paused".
  if (c.pause) json.pause = true;
  // Shardherd's own settings are written only when they differ from the defaults.
  const citus: JsonObject = {};
  for (const [key, value] of Object.entries(c.citus)) {
    if (value !== DEFAULT_DYNAMIC_CONFIG.citus[key as keyof DynamicConfig['citus']]) citus[key] = value;
  }
  if (Object.keys(citus).length > 0) json.citus = citus;
  return json;
}
