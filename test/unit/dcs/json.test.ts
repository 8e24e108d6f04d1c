// compactJson must produce the same bytes as Patroni's json.dumps(value, separators=(',', ':')).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compactJson } from '../../../src/dcs/json.ts';

test('objects are written without spaces, keys in insertion order', () => {
  assert.equal(
    compactJson({ conn_url: 'postgres://h:5432/postgres', state: 'running', timeline: 1, tags: { a: true } }),
    '{"conn_url":"postgres://h:5432/postgres","state":"running","timeline":1,"tags":{"a":true}}',
  );
});

test('non-ASCII characters are escaped as lowercase \\u sequences like Python', () => {
  assert.equal(compactJson({ n: 'é€' }), '{"n":"\\u00e9\\u20ac"}');
});

test('astral characters become a surrogate pair, DEL is escaped', () => {
  assert.equal(compactJson('😀\u007f'), '"\\ud83d\\ude00\\u007f"');
});

test('control characters use the short escapes where JSON has them', () => {
  assert.equal(compactJson('a\nb\tc\u0001'), '"a\\nb\\tc\\u0001"');
});

test('history lines are nested arrays', () => {
  assert.equal(
    compactJson([[1, 25165984, 'no recovery target specified', '2024-01-01T00:00:00+00:00', 'b']]),
    '[[1,25165984,"no recovery target specified","2024-01-01T00:00:00+00:00","b"]]',
  );
});
