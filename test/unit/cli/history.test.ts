// `shardherd history` output in every format, against what patronictl 3.0.2 prints for the same
// history key (captured from its print_output).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatHistory, historyRows, parseHistoryFormat } from '../../../src/cli/history.ts';
import type { HistoryEntry } from '../../../src/dcs/types.ts';

const ENTRIES: HistoryEntry[] = [
  [1, 50331808, 'no recovery target specified', '2024-01-01T00:00:00+00:00', 'm2'],
  [2, 12345, 'x'],
];

test('history rows are padded to the five columns', () => {
  assert.deepEqual(historyRows(ENTRIES), [
    [1, 50331808, 'no recovery target specified', '2024-01-01T00:00:00+00:00', 'm2'],
    [2, 12345, 'x', '', ''],
  ]);
});

test('pretty: a boxed table with TL and LSN right-aligned, as patronictl history', () => {
  assert.equal(
    formatHistory(ENTRIES, 'pretty'),
    [
      '+----+----------+------------------------------+---------------------------+------------+',
      '| TL |      LSN | Reason                       | Timestamp                 | New Leader |',
      '+----+----------+------------------------------+---------------------------+------------+',
      '|  1 | 50331808 | no recovery target specified | 2024-01-01T00:00:00+00:00 | m2         |',
      '|  2 |    12345 | x                            |                           |            |',
      '+----+----------+------------------------------+---------------------------+------------+',
      '',
    ].join('\n'),
  );
});

test('pretty: an empty history is the header between rules, as patronictl prints it', () => {
  assert.equal(
    formatHistory([], 'pretty'),
    [
      '+----+-----+--------+-----------+------------+',
      '| TL | LSN | Reason | Timestamp | New Leader |',
      '+----+-----+--------+-----------+------------+',
      '+----+-----+--------+-----------+------------+',
      '',
    ].join('\n'),
  );
});

test('json, yaml and tsv as patronictl prints them', () => {
  const one = ENTRIES.slice(0, 1);
  assert.equal(
    formatHistory(one, 'json'),
    '[{"TL": 1, "LSN": 50331808, "Reason": "no recovery target specified", ' +
      '"Timestamp": "2024-01-01T00:00:00+00:00", "New Leader": "m2"}]\n',
  );
  assert.equal(
    formatHistory(one, 'yaml'),
    [
      '- LSN: 50331808',
      '  New Leader: m2',
      '  Reason: no recovery target specified',
      '  TL: 1',
      "  Timestamp: '2024-01-01T00:00:00+00:00'",
      '',
      '',
    ].join('\n'),
  );
  assert.equal(
    formatHistory(one, 'tsv'),
    'TL\tLSN\tReason\tTimestamp\tNew Leader\n' +
      '1\t50331808\tno recovery target specified\t2024-01-01T00:00:00+00:00\tm2\n',
  );
});

test('-f: yml is yaml; an unknown format is named', () => {
  assert.equal(parseHistoryFormat('yml'), 'yaml');
  assert.throws(() => parseHistoryFormat('xml'), /unknown format "xml": expected pretty, json, yaml or tsv/);
});
