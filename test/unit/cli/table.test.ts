// renderTable: the boxed layout of patronictl's tables (expected strings were produced by
// patronictl 3.0.2's own table class with the same input).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderTable } from '../../../src/cli/table.ts';

const ALIGN = { Group: 'r', TL: 'r', 'Lag in MB': 'r' } as const;

test('columns are as wide as their widest cell or title, right-aligned columns align their title too', () => {
  const out = renderTable({
    title: ' Cluster: demo ',
    columns: ['Member', 'TL', 'Lag in MB'],
    rows: [
      ['a', '123', ''],
      ['bb', '1', '4'],
    ],
    align: ALIGN,
  });
  assert.equal(
    out,
    [
      '+ Cluster: demo -----------+',
      '| Member |  TL | Lag in MB |',
      '+--------+-----+-----------+',
      '| a      | 123 |           |',
      '| bb     |   1 |         4 |',
      '+--------+-----+-----------+',
    ].join('\n'),
  );
});

test('a cell with several lines puts a rule between every row', () => {
  const out = renderTable({
    title: ' Cluster: demo ',
    columns: ['Member', 'Tags'],
    rows: [
      ['a', 'x: 1\ny: 2'],
      ['bb', ''],
    ],
    align: ALIGN,
  });
  assert.equal(
    out,
    [
      '+ Cluster: demo +',
      '| Member | Tags |',
      '+--------+------+',
      '| a      | x: 1 |',
      '|        | y: 2 |',
      '+--------+------+',
      '| bb     |      |',
      '+--------+------+',
    ].join('\n'),
  );
});

test('a title longer than the table is cut to fit inside the top border', () => {
  const out = renderTable({
    title: ' Citus cluster: a-very-long-cluster-name (group: 1, uninitialized) ',
    columns: ['Member', 'TL'],
    rows: [],
    align: ALIGN,
  });
  assert.equal(out, ['+ Citus cluste+', '| Member | TL |', '+--------+----+', '+--------+----+'].join('\n'));
});

test('an empty title leaves the top border plain', () => {
  const out = renderTable({ title: '', columns: ['Member', 'TL'], rows: [['m', '1']], align: ALIGN });
  assert.equal(
    out,
    ['+--------+----+', '| Member | TL |', '+--------+----+', '| m      |  1 |', '+--------+----+'].join('\n'),
  );
});

test('a row shorter than the columns shows empty cells', () => {
  const out = renderTable({ title: '', columns: ['A', 'B'], rows: [['x']] });
  assert.equal(out, ['+---+---+', '| A | B |', '+---+---+', '| x |   |', '+---+---+'].join('\n'));
});
