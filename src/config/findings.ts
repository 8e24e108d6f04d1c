// Typed readers over parsed YAML/JSON that record every problem (and warning) with its dotted
// path instead of stopping at the first, so a user sees all mistakes in one run.
import type { ConfigProblem } from '../errors.ts';
import type { Scalar } from './types.ts';

export class Findings {
  readonly problems: ConfigProblem[] = [];
  readonly warnings: string[] = [];

  problem(path: string, message: string): undefined {
    this.problems.push({ path, message });
    return undefined;
  }

  warn(path: string, message: string): void {
    const line = path ? `${path}: ${message}` : message;
    if (!this.warnings.includes(line)) this.warnings.push(line);
  }
}

export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** How a value looks in a message: strings quoted, containers named. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return String(value);
}

export type RawMap = Record<string, unknown>;

export function isMap(value: unknown): value is RawMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A section: absent (undefined/null) gives an empty map; anything but a map is a problem. */
export function readMap(value: unknown, path: string, f: Findings): RawMap | undefined {
  if (value === undefined || value === null) return {};
  if (isMap(value)) return value;
  return f.problem(path, `expected a map, got ${describe(value)}`);
}

export function readString(
  value: unknown,
  path: string,
  f: Findings,
  opts: { nonEmpty?: boolean } = {},
): string | undefined {
  if (typeof value !== 'string') return f.problem(path, `expected a string, got ${describe(value)}`);
  if (opts.nonEmpty && value.trim() === '') return f.problem(path, 'must not be empty');
  return value;
}

/**
 * Integers may come as YAML numbers or as digit strings (environment variables, values written
 * by other tools into the `config` key); Patroni's runtime accepts both.
 */
export function readInt(
  value: unknown,
  path: string,
  f: Findings,
  opts: { min?: number; max?: number } = {},
): number | undefined {
  let n: number | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) n = value;
  else if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) n = Number(value);
  if (n === undefined) return f.problem(path, `expected an integer, got ${describe(value)}`);
  if (opts.min !== undefined && n < opts.min) return f.problem(path, `must be at least ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) return f.problem(path, `must be at most ${opts.max}, got ${n}`);
  return n;
}

const TRUE_WORDS = new Set(['true', 'yes', 'on', 'y', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', 'n', '0']);

/** Booleans as YAML 1.1 and Patroni's parse_bool know them (`on`, `yes`, `true`, ...). */
export function readBool(value: unknown, path: string, f: Findings): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const word = value.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
  }
  return f.problem(path, `expected true or false, got ${describe(value)}`);
}

export function readScalar(value: unknown, path: string, f: Findings): Scalar | undefined {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  return f.problem(path, `expected a string, number or boolean, got ${describe(value)}`);
}

export function readStringList(value: unknown, path: string, f: Findings): string[] | undefined {
  if (!Array.isArray(value)) return f.problem(path, `expected a list of strings, got ${describe(value)}`);
  const out: string[] = [];
  let ok = true;
  value.forEach((item, i) => {
    const s = readString(item, join(path, i), f);
    if (s === undefined) ok = false;
    else out.push(s);
  });
  return ok ? out : undefined;
}

/** A map of scalars (postgresql.parameters, tags); invalid entries are reported and left out. */
export function readScalarMap(value: unknown, path: string, f: Findings): Record<string, Scalar> | undefined {
  const map = readMap(value, path, f);
  if (!map) return undefined;
  const out: Record<string, Scalar> = {};
  for (const [key, item] of Object.entries(map)) {
    const s = readScalar(item, join(path, key), f);
    if (s !== undefined) out[key] = s;
  }
  return out;
}
