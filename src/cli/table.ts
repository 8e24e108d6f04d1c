// A box-drawn text table laid out like patronictl's (prettytable with a title written into the
// top border), so people and scripts used to `patronictl list` read Shardherd's the same way.

export type Align = 'l' | 'r';

export interface TableSpec {
  /** Written over the start of the top border (cut to fit), e.g. ` Cluster: demo `. */
  title: string;
  columns: readonly string[];
  /** One string per column; a cell may hold several lines. */
  rows: readonly (readonly string[])[];
  /** Alignment by column title; left when absent. Titles follow their column's alignment. */
  align?: Readonly<Record<string, Align>>;
}

function pad(text: string, width: number, align: Align): string {
  const fill = ' '.repeat(Math.max(0, width - text.length));
  return align === 'r' ? fill + text : text + fill;
}

/**
 * The table as lines joined by newlines (no trailing newline). Rows are separated by a rule only
 * when some cell spans several lines, where a reader would otherwise lose the row boundaries.
 */
export function renderTable(spec: TableSpec): string {
  const { columns } = spec;
  const aligns = columns.map((c) => spec.align?.[c] ?? 'l');
  const cells = spec.rows.map((row) => columns.map((_, i) => (row[i] ?? '').split('\n')));
  const widths = columns.map((title, i) =>
    Math.max(title.length, ...cells.map((row) => Math.max(...row[i].map((line) => line.length)))),
  );

  const rule = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const line = (texts: readonly string[]): string =>
    '|' + texts.map((t, i) => ` ${pad(t, widths[i], aligns[i])} `).join('|') + '|';
  const title = spec.title.slice(0, Math.max(0, rule.length - 2));
  const top = rule[0] + title + rule.slice(1 + title.length);

  const out = [top, line(columns), rule];
  const ruleEveryRow = cells.some((row) => row.some((cell) => cell.length > 1));
  for (const row of cells) {
    const height = Math.max(1, ...row.map((cell) => cell.length));
    for (let k = 0; k < height; k++) out.push(line(row.map((cell) => cell[k] ?? '')));
    if (ruleEveryRow) out.push(rule);
  }
  if (!ruleEveryRow || cells.length === 0) out.push(rule);
  return out.join('\n');
}
