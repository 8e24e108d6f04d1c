// Changes to a group's dynamic configuration (the `config` key) as `shardherd edit-config` and
// `PATCH`/`PUT /config` make them: Patroni's merge (nested maps merge, null deletes a key), the
// dotted `-s key=value` and `-p guc=value` settings, and the check of a candidate configuration
// against the dynamic configuration's rules and the server's pg_settings. Pure.
import YAML from 'yaml';
import { MANAGED_PARAMETERS, validateDynamicConfig } from '../config/dynamic.ts';
import type { JsonObject, JsonValue, Scalar } from '../config/types.ts';
import { ShardherdError } from '../errors.ts';
import { checkParameter, type PgSetting } from './pgSettings.ts';

const PARAMETERS_PATH = ['postgresql', 'parameters'];

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Drops null members at every depth: a merge patch's nulls mean "absent". */
function withoutNulls(value: JsonValue): JsonValue {
  if (!isJsonObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) if (inner !== null) out[key] = withoutNulls(inner);
  return out;
}

/**
 * `patch` over `base`, as Patroni's PATCH /config and `edit-config --apply` merge: maps merge
 * recursively, null deletes a key, anything else replaces. `base` is left as it was.
 */
export function mergePatch(base: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key];
    if (value === null) delete out[key];
    else if (isJsonObject(value) && isJsonObject(current)) out[key] = mergePatch(current, value);
    else out[key] = withoutNulls(value);
  }
  return out;
}

/** One `-s path=value` or `-p name=value` from the command line. */
export interface SetPair {
  /** Dotted path into the configuration; a parameter's name is one segment, dots and all. */
  path: string[];
  /** The value parsed as YAML; null deletes the key. */
  value: JsonValue;
}

/** A GUC name as postgresql.conf accepts it (extension settings carry a dot). */
const GUC_NAME = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)*$/;

/** A value as YAML 1.1 reads it (patronictl's yaml.safe_load): `5` a number, `off` false, `` null. */
function yamlValue(text: string, option: string, pair: string): JsonValue {
  try {
    return (YAML.parse(text, { version: '1.1' }) ?? null) as JsonValue;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ShardherdError(`${option} ${JSON.stringify(pair)}: the value is not valid YAML: ${why}`);
  }
}

/**
 * Parses `-s key.path=value` (option `-s`) or `-p guc=value` (option `-p`, a shorthand for
 * `-s postgresql.parameters.guc=value`). Throws one line naming the option and what is wrong.
 */
export function parseSetPair(pair: string, option: '-s' | '-p'): SetPair {
  const eq = pair.indexOf('=');
  const what = option === '-p' ? 'guc=value' : 'key=value';
  if (eq < 0) throw new ShardherdError(`${option} ${JSON.stringify(pair)}: expected ${what}`);
  const key = pair.slice(0, eq).trim();
  const value = yamlValue(pair.slice(eq + 1), option, pair);
  if (option === '-p') {
    if (!GUC_NAME.test(key))
      throw new ShardherdError(`${option} ${JSON.stringify(pair)}: ${JSON.stringify(key)} is not a parameter name`);
    if (isJsonObject(value) || Array.isArray(value))
      throw new ShardherdError(`${option} ${JSON.stringify(pair)}: a parameter's value must be a single value`);
    return { path: [...PARAMETERS_PATH, key], value };
  }
  const path = key.split('.');
  if (path.some((segment) => segment === ''))
    throw new ShardherdError(`${option} ${JSON.stringify(pair)}: ${JSON.stringify(key)} is not a dotted key`);
  // As patronictl: below postgresql.parameters the rest of the path is one name with its dots.
  const underParameters = path.length > 2 && path[0] === 'postgresql' && path[1] === 'parameters';
  return { path: underParameters ? [...PARAMETERS_PATH, path.slice(2).join('.')] : path, value };
}

/**
 * Sets (or with null deletes) the value at `path`, making maps on the way; maps left empty by a
 * delete are dropped, as patronictl's `edit-config -s` does. `config` is left as it was.
 */
export function setPath(config: JsonObject, path: readonly string[], value: JsonValue): JsonObject {
  const [key, ...rest] = path;
  if (key === undefined) return config;
  const out: JsonObject = { ...config };
  if (rest.length === 0) {
    if (value === null) delete out[key];
    else out[key] = value;
    return out;
  }
  const current = out[key];
  const inner = setPath(isJsonObject(current) ? current : {}, rest, value);
  if (Object.keys(inner).length === 0) delete out[key];
  else out[key] = inner;
  return out;
}

function parametersOf(config: JsonObject): Record<string, JsonValue> {
  const postgresql = config.postgresql;
  const parameters = isJsonObject(postgresql) ? postgresql.parameters : undefined;
  return isJsonObject(parameters) ? parameters : {};
}

/** Parameters `after` sets to a value that `before` did not have (added or changed), by name. */
export function changedParameters(before: JsonObject, after: JsonObject): Record<string, Scalar> {
  const old = parametersOf(before);
  const out: Record<string, Scalar> = {};
  for (const [name, value] of Object.entries(parametersOf(after))) {
    if (value === null || typeof value === 'object') continue;
    const prior = old[name];
    if (prior === undefined || prior === null || typeof prior === 'object' || String(prior) !== String(value))
      out[name] = value;
  }
  return out;
}

/** What a check of a candidate configuration found. */
export interface ConfigCheck {
  /** `path: reason`, one per problem; the candidate must not be written when there is any. */
  problems: string[];
  warnings: string[];
  /** Changed parameters that take effect only when PostgreSQL restarts (context postmaster). */
  restart: string[];
}

/**
 * Checks `after` (meant to replace `before`): the dynamic configuration's rules (types, ranges,
 * `loop_wait + 2*retry_timeout <= ttl`), then every added or changed parameter against
 * `settings`, the server's pg_settings. With `settings` null the parameters are not checked
 * against a server (the caller knows why).
 */
export function checkConfig(
  before: JsonObject,
  after: JsonObject,
  settings: ReadonlyMap<string, PgSetting> | null,
): ConfigCheck {
  const validated = validateDynamicConfig(after);
  const result: ConfigCheck = {
    problems: validated.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)),
    warnings: [...validated.warnings],
    restart: [],
  };
  if (settings === null) return result;
  for (const [name, value] of Object.entries(changedParameters(before, after))) {
    const path = [...PARAMETERS_PATH, name].join('.');
    // The dynamic configuration's own bound (e.g. max_connections >= 25) said it already, or
    // its warning that Shardherd sets the parameter itself.
    if (MANAGED_PARAMETERS.includes(name.toLowerCase())) continue;
    if (result.problems.some((p) => p.startsWith(`${path}: `))) continue;
    const verdict = checkParameter(settings, name, value);
    if (verdict.kind === 'invalid') result.problems.push(`${path}: ${verdict.reason}`);
    else if (verdict.kind === 'custom')
      result.warnings.push(`${path}: not known to the server; set as a custom option`);
    else if (verdict.restart) result.restart.push(name);
  }
  return result;
}
