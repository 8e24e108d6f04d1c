// Deep merge of configuration maps, with Patroni's rule for layered files: maps merge key by key,
// anything else replaces, and a null removes the key (so a later file can switch a section off).
import { isMap, type RawMap } from './findings.ts';

export function mergeConfig(base: RawMap, overlay: RawMap): RawMap {
  const out: RawMap = { ...base };
  for (const [key, value] of Object.entries(overlay)) {
    if (value === null) delete out[key];
    else if (isMap(value) && isMap(out[key])) out[key] = mergeConfig(out[key] as RawMap, value);
    else out[key] = value;
  }
  return out;
}
