// WAL positions: text form to bytes and back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLsn, parseLsn, parseLsnOrNull } from '../../../src/postgres/lsn.ts';

test('an LSN is high word times 2^32 plus low word', () => {
  assert.equal(parseLsn('0/3000060'), 0x3000060);
  assert.equal(parseLsn('16/B374D848'), 0x16 * 2 ** 32 + 0xb374d848);
});

test('formatLsn is the inverse of parseLsn', () => {
  for (const text of ['0/0', '0/3000060', '16/B374D848', 'FFFFF/FFFFFFFF'])
    assert.equal(formatLsn(parseLsn(text)), text);
});

test('a malformed LSN is an error, a null column stays null', () => {
  assert.throws(() => parseLsn('3000060'), /not a WAL position/);
  assert.equal(parseLsnOrNull(null), null);
});
