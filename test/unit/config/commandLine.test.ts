// Command lines of callbacks are split as a POSIX shell quotes, without expanding anything.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitCommand } from '../../../src/config/commandLine.ts';

test('words split on whitespace; quotes group and are removed; nothing is expanded', () => {
  const cases: Array<[string, string[]]> = [
    ['/usr/local/bin/vip.sh', ['/usr/local/bin/vip.sh']],
    ['  vip.sh   --dev\teth0 ', ['vip.sh', '--dev', 'eth0']],
    ['notify \'two words\' "and three words"', ['notify', 'two words', 'and three words']],
    ["a'b c'd", ['ab cd']],
    ['empty "" \'\'', ['empty', '', '']],
    ['say \\"hi\\" \\$HOME', ['say', '"hi"', '$HOME']],
    ['"in \\"double\\" \\\\ \\n"', ['in "double" \\ \\n']],
    ["'no \\escape in single'", ['no \\escape in single']],
    ['a|b > c $X *', ['a|b', '>', 'c', '$X', '*']],
    ['', []],
  ];
  for (const [text, words] of cases) assert.deepEqual(splitCommand(text), words, text);
});

test('an open quote or a trailing backslash is refused with what is wrong', () => {
  assert.throws(() => splitCommand("vip.sh 'eth0"), /the quote ' is not closed/);
  assert.throws(() => splitCommand('vip.sh "eth0'), /the quote " is not closed/);
  assert.throws(() => splitCommand('vip.sh eth0\\'), /ends with a backslash/);
});
