// A dynamic configuration as YAML for people, the way patronictl's show-config and edit-config
// print it (PyYAML's safe_dump: keys sorted, block style, lists not indented, YAML 1.1 quoting).
import YAML from 'yaml';
import type { JsonValue } from '../config/types.ts';
import type { JsonData } from './pythonJson.ts';

const OPTIONS = {
  version: '1.1',
  sortMapEntries: true,
  singleQuote: true,
  lineWidth: 200,
  indentSeq: false,
} as const;

/** The YAML text, ending with a newline (`{}` for an empty configuration). */
export function configYaml(data: JsonValue | JsonData): string {
  return YAML.stringify(data, OPTIONS);
}
