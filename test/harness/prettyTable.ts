// Reading the tables patronictl (and `shardherd list`) print in the pretty format.
import assert from 'node:assert/strict';

/** The rows of a pretty table (patronictl's boxed layout), keyed by column title. */
export function tableRows(output: string): Array<Record<string, string>> {
  const cells = output
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  const [header, ...rows] = cells;
  assert.ok(header, `no table in the output:\n${output}`);
  return rows.map((row) => Object.fromEntries(header.map((title, i) => [title, row[i] ?? ''])));
}
