// `?lag=` values parse like Patroni's parse_int with base unit B (expected values from Patroni 3.0.2).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseByteSize } from '../../../src/api/byteSize.ts';

const cases: Array<[string, number | null]> = [
  ['1048576', 1048576],
  ['16MB', 16777216],
  ['1GB', 1073741824],
  ['1TB', 1099511627776],
  ['1.5MB', 1572864],
  ['0x10', 16],
  ['010', 8],
  ['08', null],
  [' 16 MB ', 16777216],
  ['1e3', 1000],
  ['-1', -1],
  ['+0', 0],
  ['abc', null],
  ['', null],
  ['10s', null],
  ['1 kb', null],
  ['1.0001MB', 1048576],
  ['4097.5kB', 4195840],
  ['.5kB', 512],
  ['512B', 512],
];

for (const [text, expected] of cases) {
  test(`parseByteSize(${JSON.stringify(text)}) is ${expected}`, () => {
    assert.equal(parseByteSize(text), expected);
  });
}
