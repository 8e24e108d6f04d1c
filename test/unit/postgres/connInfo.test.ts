// libpq conninfo rendering and pgpass lines.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientConfig, formatConnInfo, quoteConnValue } from '../../../src/postgres/connInfo.ts';
import { escapePgpassField, renderPgpass } from '../../../src/postgres/pgpass.ts';

test('conninfo values with spaces, quotes or backslashes are quoted and escaped', () => {
  assert.equal(quoteConnValue('plain'), 'plain');
  assert.equal(quoteConnValue('a b'), "'a b'");
  assert.equal(quoteConnValue("o'k\\"), "'o\\'k\\\\'");
  assert.equal(quoteConnValue(''), "''");
});

test('conninfo never contains the password', () => {
  const text = formatConnInfo({ host: 'h', port: 5432, user: 'u', password: 'secret', passfile: '/p' });
  assert.equal(text, 'host=h port=5432 user=u passfile=/p');
});

test('conninfo renders dbname from database', () => {
  assert.equal(
    formatConnInfo({ host: 'h', port: 1, user: 'u', database: 'my db' }),
    "host=h port=1 user=u dbname='my db'",
  );
});

test('client settings carry the password and default to the postgres database', () => {
  const c = clientConfig({ host: 'h', port: 1, user: 'u', password: 'pw' });
  assert.deepEqual([c.host, c.port, c.user, c.password, c.database], ['h', 1, 'u', 'pw', 'postgres']);
});

test('pgpass fields escape colons and backslashes', () => {
  assert.equal(escapePgpassField('a:b\\c'), 'a\\:b\\\\c');
});

test('pgpass renders one line per user with a password, wildcards unescaped', () => {
  const text = renderPgpass([
    { host: '*', port: '*', database: '*', user: { username: 'replicator', password: 'p:w' } },
    { host: '10.0.0.1', port: 5432, database: 'postgres', user: { username: 'nopass' } },
  ]);
  assert.equal(text, '*:*:*:replicator:p\\:w\n');
});
