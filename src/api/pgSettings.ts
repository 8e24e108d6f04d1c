// PostgreSQL parameters checked against the server's own pg_settings before they are written to
// the dynamic configuration, with PostgreSQL's rules: names, booleans, integers and reals with
// units (`64MB`, `5s`) and ranges, enum values. Pure: the rows come from the caller.
import type { Scalar } from '../config/types.ts';

/** One pg_settings row, the columns the checks need (never the current value). */
export interface PgSetting {
  name: string;
  /** `bool`, `integer`, `real`, `enum` or `string`. */
  vartype: string;
  /** The base unit of an integer or real setting, e.g. `kB`, `8kB`, `ms`; null when it has none. */
  unit: string | null;
  min_val: string | null;
  max_val: string | null;
  enumvals: string[] | null;
  /** `internal`, `postmaster`, `sighup`, `superuser-backend`, `backend`, `superuser`, `user`. */
  context: string;
}

/** The query that reads the rows; served by `GET /pg_settings`. */
export const PG_SETTINGS_SQL =
  'SELECT name, vartype, unit, min_val, max_val, enumvals, context FROM pg_catalog.pg_settings ORDER BY name';

/** What a check found for one parameter. */
export type ParameterCheck =
  | { kind: 'ok'; restart: boolean }
  /** A dotted name the server does not know: PostgreSQL accepts it as a custom setting. */
  | { kind: 'custom' }
  | { kind: 'invalid'; reason: string };

const MEMORY_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  kB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
};
const TIME_UNITS: Readonly<Record<string, number>> = {
  us: 1,
  ms: 1000,
  s: 1_000_000,
  min: 60_000_000,
  h: 3_600_000_000,
  d: 86_400_000_000,
};

/** A setting's unit (`8kB`, `ms`) as its size in bytes or microseconds; null when unknown. */
function baseUnit(unit: string): { table: Readonly<Record<string, number>>; factor: number } | null {
  const m = /^(\d+)?\s*([A-Za-z]+)$/.exec(unit.trim());
  if (!m) return null;
  const count = m[1] === undefined ? 1 : Number(m[1]);
  for (const table of [MEMORY_UNITS, TIME_UNITS]) {
    const size = table[m[2]!];
    if (size !== undefined) return { table, factor: count * size };
  }
  return null;
}

/** PostgreSQL's parse_bool: on/off, true/false, yes/no, 1/0 and unique prefixes, any case. */
export function parsePgBool(value: Scalar): boolean | null {
  if (typeof value === 'boolean') return value;
  const word = String(value).trim().toLowerCase();
  if (word === '') return null;
  if (word === '1') return true;
  if (word === '0') return false;
  if ('true'.startsWith(word) || 'yes'.startsWith(word) || word === 'on') return true;
  if ('false'.startsWith(word) || 'no'.startsWith(word) || (word.length >= 2 && 'off'.startsWith(word))) return false;
  return null;
}

/** How a value looks in a message. */
function shown(value: Scalar): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Text PostgreSQL reads for a value (booleans are rendered `on`/`off` into postgresql.conf). */
function confText(value: Scalar): string {
  return typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value).trim();
}

const NUMBER_RE = /^([+-]?(?:0x[0-9a-f]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?))\s*(.*)$/i;

/**
 * A numeric value in the setting's base unit, as PostgreSQL's parse_int/parse_real read it: a
 * number, optionally followed by a unit of the same kind as the setting's. A reason when it fails.
 */
function numericValue(setting: PgSetting, value: Scalar): { value: number } | { reason: string } {
  const kind = setting.vartype === 'integer' ? 'an integer' : 'a number';
  const base = setting.unit ? baseUnit(setting.unit) : null;
  const units = base ? Object.keys(base.table).join(', ') : '';
  const expected = base ? `${kind} (in ${setting.unit}) or ${kind} with a unit: ${units}` : kind;
  const m = NUMBER_RE.exec(confText(value));
  if (typeof value === 'boolean' || !m) return { reason: `expected ${expected}, got ${shown(value)}` };
  const text = m[1]!;
  let n = /^[+-]?0x/i.test(text) ? Number.parseInt(text, 16) : Number(text);
  const unit = m[2]!;
  if (unit !== '') {
    if (base === null) return { reason: `expected ${kind} without a unit, got ${shown(value)}` };
    const size = base.table[unit];
    if (size === undefined) return { reason: `unknown unit "${unit}" in ${shown(value)}: valid units are ${units}` };
    n = (n * size) / base.factor;
  }
  if (setting.vartype === 'integer') n = Math.round(n);
  if (!Number.isFinite(n)) return { reason: `expected ${expected}, got ${shown(value)}` };
  return { value: n };
}

function rangeReason(setting: PgSetting, n: number, value: Scalar): string | null {
  const min = setting.min_val === null ? -Infinity : Number(setting.min_val);
  const max = setting.max_val === null ? Infinity : Number(setting.max_val);
  if (n >= min && n <= max) return null;
  const unit = setting.unit ? ` ${setting.unit}` : '';
  const converted = typeof value === 'number' || confText(value) === String(n) ? '' : ` (${n}${unit})`;
  return `${shown(value)}${converted} is outside the range ${setting.min_val}..${setting.max_val}${unit}`;
}

/** Enum values PostgreSQL accepts without listing them in enumvals. */
const HIDDEN_ENUM_VALUES: Readonly<Record<string, readonly string[]>> = {
  wal_level: ['archive', 'hot_standby'],
};

function enumReason(setting: PgSetting, value: Scalar): string | null {
  const allowed = setting.enumvals ?? [];
  const text = confText(value).toLowerCase();
  if (allowed.some((v) => v.toLowerCase() === text)) return null;
  if (HIDDEN_ENUM_VALUES[setting.name]?.includes(text)) return null;
  // Enums with on/off (synchronous_commit, huge_pages, ...) take every boolean spelling too.
  if (allowed.includes('on') && parsePgBool(value) !== null) return null;
  return `expected one of ${allowed.join(', ')}, got ${shown(value)}`;
}

/** Whether `value` is valid for `setting`, the reason when it is not. */
export function checkSettingValue(setting: PgSetting, value: Scalar): string | null {
  switch (setting.vartype) {
    case 'bool':
      return parsePgBool(value) === null
        ? `expected a boolean (on, off, true, false, yes, no, 1, 0), got ${shown(value)}`
        : null;
    case 'integer':
    case 'real': {
      const parsed = numericValue(setting, value);
      return 'reason' in parsed ? parsed.reason : rangeReason(setting, parsed.value, value);
    }
    case 'enum':
      return enumReason(setting, value);
    default:
      return null;
  }
}

/** The rows by lower-case name: PostgreSQL's parameter names are case-insensitive. */
export function indexSettings(rows: readonly PgSetting[]): Map<string, PgSetting> {
  return new Map(rows.map((r) => [r.name.toLowerCase(), r]));
}

/** Checks one parameter against the server's settings. */
export function checkParameter(settings: ReadonlyMap<string, PgSetting>, name: string, value: Scalar): ParameterCheck {
  const setting = settings.get(name.toLowerCase());
  if (setting === undefined) {
    if (name.includes('.')) return { kind: 'custom' };
    return { kind: 'invalid', reason: "unknown parameter: the server's pg_settings has no such name" };
  }
  if (setting.context === 'internal')
    return { kind: 'invalid', reason: 'cannot be set: it is fixed when PostgreSQL is built or initialized' };
  const reason = checkSettingValue(setting, value);
  if (reason !== null) return { kind: 'invalid', reason };
  return { kind: 'ok', restart: setting.context === 'postmaster' };
}

function isStringOrNull(value: unknown): value is string | null {
  return value === null || typeof value === 'string';
}

/** Rows as `GET /pg_settings` answers them; null when the body is not such a list. */
export function parsePgSettings(body: unknown): PgSetting[] | null {
  if (!Array.isArray(body)) return null;
  const rows: PgSetting[] = [];
  for (const item of body as unknown[]) {
    if (typeof item !== 'object' || item === null) return null;
    const r = item as Record<string, unknown>;
    const enumvals = r.enumvals;
    if (
      typeof r.name !== 'string' ||
      typeof r.vartype !== 'string' ||
      typeof r.context !== 'string' ||
      !isStringOrNull(r.unit) ||
      !isStringOrNull(r.min_val) ||
      !isStringOrNull(r.max_val) ||
      !(enumvals === null || (Array.isArray(enumvals) && enumvals.every((v) => typeof v === 'string')))
    )
      return null;
    rows.push({
      name: r.name,
      vartype: r.vartype,
      unit: r.unit,
      min_val: r.min_val,
      max_val: r.max_val,
      enumvals: enumvals as string[] | null,
      context: r.context,
    });
  }
  return rows;
}
