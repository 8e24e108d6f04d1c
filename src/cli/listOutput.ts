// Renders a MemberListing in one of patronictl's output formats: a boxed table for people (with
// the pause/switchover notes), tab-separated lines, or a list of member objects in JSON or YAML.
import YAML from 'yaml';
import type { Cell, MemberListing, TagMap } from './listRows.ts';
import { pythonJson, type JsonData } from './pythonJson.ts';
import { renderTable } from './table.ts';

/** `topology` is the boxed table with tags on one line; `list` offers the other four. */
export type OutputFormat = 'pretty' | 'tsv' | 'json' | 'yaml' | 'topology';

export const LIST_FORMATS: readonly OutputFormat[] = ['pretty', 'tsv', 'json', 'yaml'];

/** The format a `-f` value names (`yml` is accepted for `yaml`, as patronictl does); null when unknown. */
export function parseListFormat(value: string): OutputFormat | null {
  if (value === 'yml') return 'yaml';
  return (LIST_FORMATS as readonly string[]).includes(value) ? (value as OutputFormat) : null;
}

// PyYAML's safe_dump as patronictl calls it: keys sorted, YAML 1.1 scalars quoted, wide lines.
const YAML_OPTIONS = { version: '1.1', sortMapEntries: true, singleQuote: true, lineWidth: 200 } as const;

/** Tags as YAML: one `key: value` line each, or `{key: value, ...}` on one line. */
function tagsText(tags: TagMap, flow: boolean): string {
  if (Object.keys(tags).length === 0) return '{}';
  const text = flow
    ? YAML.stringify(tags, { ...YAML_OPTIONS, collectionStyle: 'flow', flowCollectionPadding: false })
    : YAML.stringify(tags, YAML_OPTIONS);
  return text.trim();
}

function cellText(cell: Cell, flowTags: boolean): string {
  if (typeof cell === 'object') return tagsText(cell, flowTags);
  return String(cell);
}

/** Member objects keyed by column title; empty cells are left out, as patronictl does. */
function memberObjects(listing: MemberListing): Array<Record<string, JsonData>> {
  return listing.rows.map((row) => {
    const member: Record<string, JsonData> = {};
    listing.columns.forEach((column, i) => {
      const cell = row[i];
      if (cell !== '') member[column] = cell;
    });
    return member;
  });
}

/** The whole output of the command, ending with a newline. */
export function formatListing(listing: MemberListing, format: OutputFormat): string {
  switch (format) {
    case 'json':
      return pythonJson(memberObjects(listing)) + '\n';
    case 'yaml':
      // The document ends with a newline and is printed as a line, hence the empty last line.
      return YAML.stringify(memberObjects(listing), YAML_OPTIONS) + '\n';
    case 'tsv':
      return [listing.columns, ...listing.rows.map((row) => row.map((cell) => cellText(cell, true)))]
        .map((r) => r.join('\t') + '\n')
        .join('');
    case 'pretty':
    case 'topology': {
      const skip = listing.tableSkip;
      const table = renderTable({
        title: listing.title,
        columns: listing.columns.slice(skip),
        rows: listing.rows.map((row) => row.slice(skip).map((cell) => cellText(cell, format === 'topology'))),
        align: { Group: 'r', TL: 'r', 'Lag in MB': 'r' },
      });
      return [table, ...listing.footer].join('\n') + '\n';
    }
  }
}
