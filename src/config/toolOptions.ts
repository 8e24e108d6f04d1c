// Options passed through to initdb (`bootstrap.initdb`) and pg_basebackup (`postgresql.basebackup`):
// a list of flags and one-key maps, or Patroni's map form; each section names the options
// Shardherd sets itself and that may not be configured.
import { describe, Findings, isMap, join, type RawMap } from './findings.ts';
import type { InitdbOption } from './types.ts';

/** initdb/pg_basebackup options: a list of flags and one-key maps, or Patroni's map form. */
export function readToolOptions(
  value: unknown,
  p: string,
  notAllowed: readonly string[],
  f: Findings,
): InitdbOption[] | undefined {
  const items: unknown[] = isMap(value)
    ? Object.entries(value).map(([k, v]) => ({ [k]: v }))
    : Array.isArray(value)
      ? value
      : [];
  if (!isMap(value) && !Array.isArray(value)) return f.problem(p, `expected a list of options, got ${describe(value)}`);
  const out: InitdbOption[] = [];
  let ok = true;
  items.forEach((item, i) => {
    const ip = isMap(value) ? join(p, Object.keys(item as RawMap)[0]) : join(p, i);
    let option: string | undefined;
    if (typeof item === 'string' && item.trim() !== '') {
      option = item.trim();
      out.push(option);
    } else if (isMap(item) && Object.keys(item).length === 1) {
      const [[k, v]] = Object.entries(item);
      if (typeof v === 'string' || typeof v === 'number') {
        option = k;
        out.push({ [k]: v });
      } else {
        ok = false;
        f.problem(ip, `option ${k} needs a string or number value, got ${describe(v)}`);
      }
    } else {
      ok = false;
      f.problem(ip, `expected an option name or a one-key map {option: value}, got ${describe(item)}`);
    }
    if (option !== undefined && notAllowed.includes(option.replace(/^--/, ''))) {
      ok = false;
      f.problem(ip, `option ${option} is set by Shardherd itself and must not be configured`);
    }
  });
  return ok ? out : undefined;
}
