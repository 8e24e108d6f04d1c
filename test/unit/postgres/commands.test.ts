// Command lines of initdb and pg_basebackup built from Patroni-style option lists.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basebackupArgs, parseBasebackupProgress } from '../../../src/postgres/basebackup.ts';
import { initdbArgs } from '../../../src/postgres/initdb.ts';
import { PostgresError } from '../../../src/errors.ts';

test('initdb options: flags become --flag, one-key maps become --key=value', () => {
  assert.deepEqual(
    initdbArgs(
      '/d',
      ['data-checksums', { encoding: 'UTF8' }, { 'auth-host': 'scram-sha-256' }],
      { username: 'su' },
      null,
    ),
    ['-D', '/d', '--username=su', '--data-checksums', '--encoding=UTF8', '--auth-host=scram-sha-256'],
  );
});

test('initdb gets the password through --pwfile only when one is configured', () => {
  assert.ok(initdbArgs('/d', [], { username: 'su', password: 'x' }, '/tmp/pw').includes('--pwfile=/tmp/pw'));
  assert.ok(
    !initdbArgs('/d', [], { username: 'su', password: 'x' }, '/tmp/pw').some(
      (a) => a.includes('x') && !a.startsWith('--pwfile'),
    ),
  );
});

test('initdb options that Shardherd sets itself are refused', () => {
  assert.throws(() => initdbArgs('/d', [{ username: 'other' }], { username: 'su' }, null), PostgresError);
  assert.throws(() => initdbArgs('/d', [{ pgdata: '/x' }], { username: 'su' }, null), /set by shardherd/);
});

test('an option map with two keys is refused', () => {
  assert.throws(
    () => initdbArgs('/d', [{ encoding: 'UTF8', locale: 'C' }], { username: 'su' }, null),
    /exactly one key/,
  );
});

test('an option name that is not a plain word is refused', () => {
  assert.throws(() => initdbArgs('/d', ['x; rm -rf /'], { username: 'su' }, null), /invalid option name/);
});

const from = { host: '10.0.0.1', port: 5432, user: 'replicator', passfile: '/p', application_name: 'n2' };

test('pg_basebackup defaults to a fast checkpoint, streamed WAL and progress reports', () => {
  assert.deepEqual(basebackupArgs('/d', from, []), [
    '-D',
    '/d',
    '-d',
    'host=10.0.0.1 port=5432 user=replicator passfile=/p application_name=n2',
    '--checkpoint=fast',
    '--wal-method=stream',
    '--progress',
  ]);
  assert.equal(basebackupArgs('/d', from, ['progress']).filter((a) => a === '--progress').length, 1);
});

test("pg_basebackup's progress lines", () => {
  assert.deepEqual(parseBasebackupProgress('  1234/56789 kB (2%), 0/1 tablespace (/d/base/1/1259)'), {
    done_kb: 1234,
    total_kb: 56789,
    percent: 2,
  });
  assert.deepEqual(parseBasebackupProgress('56789/56789 kB (100%), 1/1 tablespace'), {
    done_kb: 56789,
    total_kb: 56789,
    percent: 100,
  });
  assert.deepEqual(parseBasebackupProgress('300 kB, 0/1 tablespace'), { done_kb: 300, total_kb: null, percent: null });
  assert.equal(parseBasebackupProgress('pg_basebackup: error: connection to server failed'), null);
  assert.equal(parseBasebackupProgress('waiting for checkpoint'), null);
});

test('pg_basebackup user options replace the defaults they name', () => {
  const args = basebackupArgs('/d', from, [{ checkpoint: 'spread' }, { 'max-rate': '100M' }, 'verbose']);
  assert.ok(args.includes('--checkpoint=spread'));
  assert.ok(!args.includes('--checkpoint=fast'));
  assert.ok(args.includes('--wal-method=stream'));
  assert.ok(args.includes('--max-rate=100M') && args.includes('--verbose'));
});

test('pg_basebackup target and source cannot be overridden by options', () => {
  assert.throws(() => basebackupArgs('/d', from, [{ pgdata: '/other' }]), /set by shardherd/);
  assert.throws(() => basebackupArgs('/d', from, [{ host: 'evil' }]), /set by shardherd/);
});
