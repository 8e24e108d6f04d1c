// authinfoAction: what the superuser's pg_dist_authinfo row needs, from the configured password and
// the row as read; and keepAuthinfo's statements against a fake connection.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type pg from 'pg';
import { authinfoAction, authinfoFor, keepAuthinfo, type AuthinfoAction } from '../../../src/citus/authinfo.ts';
import type { Queryable } from '../../../src/citus/metadataStore.ts';

type Case = [name: string, password: string | undefined, row: string | null, want: AuthinfoAction['kind']];
const CASES: Case[] = [
  ['a password and no row: written', 's3cret', null, 'upsert'],
  ['a password and the row it gives: nothing', 's3cret', 'password=s3cret', 'none'],
  ['a new password over the old row: written', 'n3w', 'password=s3cret', 'upsert'],
  ['a password over an operator row with more settings: written', 'p', 'password=p sslmode=require', 'upsert'],
  ['a quoted password and its quoted row: nothing', "it's a pw", "password='it\\'s a pw'", 'none'],
  ['no password and a row of our shape: deleted', undefined, 'password=s3cret', 'delete'],
  ['no password and a quoted row of our shape: deleted', undefined, "password='a b'", 'delete'],
  ['no password and no row: nothing', undefined, null, 'none'],
  ['no password and an operator row: left alone', undefined, 'sslcert=/c.pem sslkey=/k.pem', 'none'],
  ['no password and a password with more settings: left alone', undefined, 'password=x sslmode=require', 'none'],
];

for (const [name, password, row, want] of CASES) {
  test(`authinfo: ${name}`, () => {
    const action = authinfoAction(password, row);
    assert.equal(action.kind, want);
    if (action.kind === 'upsert') assert.equal(action.authinfo, authinfoFor(password ?? ''));
    if (action.kind === 'delete') assert.equal(action.authinfo, row, 'only the row as it was read is deleted');
  });
}

test('authinfoFor quotes a password as libpq reads it', () => {
  assert.equal(authinfoFor('plain'), 'password=plain');
  assert.equal(authinfoFor("a b'c\\"), "password='a b\\'c\\\\'");
  assert.equal(authinfoFor(''), "password=''");
});

/** A connection that answers the row read with `row` and records every statement. */
function fakeClient(row: string | null): Queryable & { sent: Array<{ sql: string; params: unknown[] }> } {
  const sent: Array<{ sql: string; params: unknown[] }> = [];
  return {
    sent,
    query(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
      sent.push({ sql: text.replace(/\s+/g, ' ').trim(), params: values });
      const rows = text.includes('SELECT authinfo') && row !== null ? [{ authinfo: row }] : [];
      return Promise.resolve({ rows, rowCount: rows.length, command: '', oid: 0, fields: [] });
    },
  };
}

test('keepAuthinfo reads the row, then upserts, deletes or does nothing', async () => {
  const stale = fakeClient('password=old');
  assert.equal((await keepAuthinfo(stale, 'new')).kind, 'upsert');
  assert.equal(stale.sent.length, 2);
  assert.match(stale.sent[1].sql, /^INSERT INTO pg_catalog\.pg_dist_authinfo .* ON CONFLICT \(nodeid, rolename\) DO/);
  assert.deepEqual(stale.sent[1].params, ['password=new']);

  const removed = fakeClient('password=old');
  assert.equal((await keepAuthinfo(removed, undefined)).kind, 'delete');
  assert.match(removed.sent[1].sql, /^DELETE FROM pg_catalog\.pg_dist_authinfo WHERE nodeid = 0 .* authinfo = \$1$/);
  assert.deepEqual(removed.sent[1].params, ['password=old']);

  const right = fakeClient('password=same');
  assert.equal((await keepAuthinfo(right, 'same')).kind, 'none');
  assert.equal(right.sent.length, 1);
});

test('keepAuthinfo names the step that failed', async () => {
  const broken: Queryable = { query: () => Promise.reject(new Error('relation "pg_dist_authinfo" does not exist')) };
  await assert.rejects(keepAuthinfo(broken, 'x'), /^PostgresError: read pg_dist_authinfo: relation "pg_dist_authinfo"/);
});
