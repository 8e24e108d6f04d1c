// The unified diff edit-config prints, against what Python's difflib.unified_diff (patronictl's)
// produces for the same texts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unifiedDiff } from '../../../src/cli/unifiedDiff.ts';

const labels = { from: 'from', to: 'to' };
const numbers = (skip: number[] = []): string =>
  Array.from({ length: 20 }, (_, i) => i + 1)
    .filter((i) => !skip.includes(i))
    .join('\n') + '\n';

const CASES: Array<{ name: string; before: string; after: string; expected: string[] }> = [
  {
    name: 'one line replaced inside the context',
    before: 'a\nb\nc\n',
    after: 'a\nB\nc\n',
    expected: ['--- from', '+++ to', '@@ -1,3 +1,3 @@', ' a', '-b', '+B', ' c'],
  },
  {
    name: 'two hunks when the changes are more than six lines apart',
    before: numbers(),
    after: numbers([2]).replace('15', 'fifteen') + 'end\n',
    expected: [
      '--- from',
      '+++ to',
      '@@ -1,5 +1,4 @@',
      ' 1',
      '-2',
      ' 3',
      ' 4',
      ' 5',
      '@@ -12,9 +11,10 @@',
      ' 12',
      ' 13',
      ' 14',
      '-15',
      '+fifteen',
      ' 16',
      ' 17',
      ' 18',
      ' 19',
      ' 20',
      '+end',
    ],
  },
  {
    name: 'a line added at the end: a one-line range has no length',
    before: 'x\n',
    after: 'x\ny\n',
    expected: ['--- from', '+++ to', '@@ -1 +1,2 @@', ' x', '+y'],
  },
  {
    name: 'a line deleted at the start',
    before: 'k: 1\nm: 2\n',
    after: 'm: 2\n',
    expected: ['--- from', '+++ to', '@@ -1,2 +1 @@', '-k: 1', ' m: 2'],
  },
  {
    name: 'everything replaced',
    before: '{}\n',
    after: 'a: 1\n',
    expected: ['--- from', '+++ to', '@@ -1 +1 @@', '-{}', '+a: 1'],
  },
];

for (const c of CASES) {
  test(`unifiedDiff as difflib: ${c.name}`, () => {
    assert.deepEqual(unifiedDiff(c.before, c.after, labels), c.expected);
  });
}

test('unifiedDiff: equal texts have no diff (a trailing newline more or less is no change)', () => {
  assert.deepEqual(unifiedDiff('a\nb\n', 'a\nb'), []);
});
