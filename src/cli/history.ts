// `shardherd history [--group N]`: the failovers and switchovers a group's `history` key records,
// printed as `patronictl history` prints them (TL, LSN, Reason, Timestamp, New Leader).
import type { Command } from 'commander';
import type { HistoryEntry } from '../dcs/types.ts';
import { ShardherdError } from '../errors.ts';
import { withSession } from './clusterSession.ts';
import { configYaml } from './configYaml.ts';
import { pythonJson, type JsonData } from './pythonJson.ts';
import { configOption, groupOption } from './readCluster.ts';
import { renderTable } from './table.ts';

export const HISTORY_COLUMNS = ['TL', 'LSN', 'Reason', 'Timestamp', 'New Leader'] as const;

export type HistoryFormat = 'pretty' | 'json' | 'yaml' | 'tsv';

/** The rows of the table: each entry padded with empty cells to the five columns, as patronictl does. */
export function historyRows(entries: readonly HistoryEntry[]): JsonData[][] {
  return entries.map((entry) => {
    const row: JsonData[] = (entry as readonly unknown[]).map((cell) => (cell ?? '') as JsonData);
    while (row.length < HISTORY_COLUMNS.length) row.push('');
    return row.slice(0, HISTORY_COLUMNS.length);
  });
}

function cellText(cell: JsonData): string {
  return typeof cell === 'string' ? cell : pythonJson(cell);
}

/** The whole output, ending with a newline. */
export function formatHistory(entries: readonly HistoryEntry[], format: HistoryFormat): string {
  const rows = historyRows(entries);
  switch (format) {
    case 'json':
    case 'yaml': {
      const objects = rows.map((row) => Object.fromEntries(HISTORY_COLUMNS.map((c, i) => [c, row[i]!])));
      return format === 'json' ? pythonJson(objects) + '\n' : configYaml(objects) + '\n';
    }
    case 'tsv':
      return [HISTORY_COLUMNS, ...rows.map((row) => row.map(cellText))].map((r) => r.join('\t') + '\n').join('');
    case 'pretty':
      return (
        renderTable({
          title: '',
          columns: HISTORY_COLUMNS,
          rows: rows.map((row) => row.map(cellText)),
          align: { TL: 'r', LSN: 'r' },
        }) + '\n'
      );
  }
}

export function parseHistoryFormat(value: string): HistoryFormat {
  const format = value === 'yml' ? 'yaml' : value;
  if (format === 'pretty' || format === 'json' || format === 'yaml' || format === 'tsv') return format;
  throw new ShardherdError(`unknown format ${JSON.stringify(value)}: expected pretty, json, yaml or tsv`);
}

export function registerHistory(program: Command): void {
  program
    .command('history')
    .description("show a group's failovers and switchovers (its history key), as patronictl history does")
    .addOption(configOption())
    .addOption(groupOption('Citus group (default: citus.group of the configuration)'))
    .option('-f, --format <format>', 'output format: pretty, json, yaml or tsv', 'pretty')
    .action(async (flags: { config?: string; group?: number; format: string }) => {
      const format = parseHistoryFormat(flags.format);
      await withSession({ configPath: flags.config, groupGiven: flags.group !== undefined }, async (session) => {
        const view = await session.readGroup(flags.group ?? session.configGroup);
        process.stdout.write(formatHistory(view.history?.value ?? [], format));
      });
    });
}
