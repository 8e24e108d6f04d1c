// Bootstrap role statements: idempotent, quoted, least privilege for the rewind role.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootstrapStatements, roleStatements } from '../../../src/postgres/roles.ts';

test('a role is created only when missing, then given login, attributes and password', () => {
  assert.deepEqual(roleStatements({ username: 'replicator', password: 'pw' }, 'REPLICATION'), [
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'replicator') " +
      'THEN CREATE ROLE "replicator"; END IF; END $$',

    `ALTER ROLE "replicator" WITH LOGIN REPLICATION PASSWORD 'pw'`,
  ]);
});

test('names and passwords with quotes are escaped', () => {
  const [, alter] = roleStatements({ username: 'we"ird', password: "it's" }, '');
  assert.equal(alter, `ALTER ROLE "we""ird" WITH LOGIN PASSWORD 'it''s'`);
});

test('the rewind role gets the pg_rewind functions and pg_checkpoint on 15, not superuser', () => {
  const s = bootstrapStatements(
    { superuser: { username: 'postgres' }, replication: { username: 'repl' }, rewind: { username: 'rw' } },
    150004,
  );
  assert.ok(s.includes('GRANT pg_checkpoint TO "rw"'));
  assert.equal(s.filter((x) => x.startsWith('GRANT EXECUTE') && x.endsWith('TO "rw"')).length, 4);
  assert.ok(s.includes('ALTER ROLE "rw" WITH LOGIN'));
  assert.ok(
    !bootstrapStatements(
      { superuser: { username: 'p' }, replication: { username: 'r' }, rewind: { username: 'w' } },
      140000,
    ).some((x) => x.includes('pg_checkpoint')),
  );
});

test('no separate rewind role when it is the superuser or not configured', () => {
  const same = bootstrapStatements(
    { superuser: { username: 'postgres' }, replication: { username: 'repl' }, rewind: { username: 'postgres' } },
    150000,
  );
  assert.equal(
    same.some((x) => x.startsWith('GRANT')),
    false,
  );
  assert.equal(
    bootstrapStatements({ superuser: { username: 'postgres' }, replication: { username: 'repl' } }, 150000).length,
    4,
  );
});
