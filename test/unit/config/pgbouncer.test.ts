// The `pgbouncer` section: defaults, the fields it needs elsewhere (citus.pooler, the superuser's
// password), and bad values refused naming their path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/load.ts';
import { ConfigError } from '../../../src/errors.ts';
import { minimalConfig, withSetting, writeConfig } from './helpers.ts';

function problemsOf(raw: Record<string, unknown>): string[] {
  try {
    loadConfig(writeConfig(raw), {});
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

/** A Citus worker with a pooler and a superuser password: what a pgbouncer section needs. */
function pooled(pgbouncer: unknown): Record<string, unknown> {
  let raw = withSetting(minimalConfig(), 'citus', { group: 1, database: 'citus', pooler: '10.0.0.5:6432' });
  raw = withSetting(raw, 'postgresql.authentication.superuser', { username: 'postgres', password: 'secret' });
  return withSetting(raw, 'pgbouncer', pgbouncer);
}

test('an empty pgbouncer section takes every default, its dir beside data_dir', () => {
  const { config, warnings } = loadConfig(writeConfig(pooled({})), {});
  assert.deepEqual(config.pgbouncer, {
    bin: '/usr/sbin/pgbouncer',
    pool_mode: 'session',
    default_pool_size: 20,
    max_client_conn: 200,
    dir: '/var/lib/postgresql/data.pgbouncer',
  });
  assert.deepEqual(warnings, []);
});

test('without a pgbouncer section there is no managed PgBouncer', () => {
  assert.equal(loadConfig(writeConfig(minimalConfig()), {}).config.pgbouncer, null);
});

test('every field is read; relative paths are made absolute', () => {
  const { config } = loadConfig(
    writeConfig(
      pooled({
        bin: '/opt/pgbouncer/bin/pgbouncer',
        pool_mode: 'transaction',
        default_pool_size: 5,
        max_client_conn: '50',
        dir: '/srv/pool',
        tls: { cert_file: '/etc/ssl/pool.crt', key_file: 'pool.key' },
      }),
    ),
    {},
  );
  assert.deepEqual(config.pgbouncer, {
    bin: '/opt/pgbouncer/bin/pgbouncer',
    pool_mode: 'transaction',
    default_pool_size: 5,
    max_client_conn: 50,
    dir: '/srv/pool',
    tls: { cert_file: '/etc/ssl/pool.crt', key_file: `${process.cwd()}/pool.key` },
  });
});

test('a pgbouncer section without citus.pooler is refused naming both', () => {
  const raw = withSetting(pooled({}), 'citus', { group: 1, database: 'citus' });
  assert.deepEqual(problemsOf(raw), [
    'pgbouncer: needs citus.pooler (host:port): the address PgBouncer listens on and other nodes connect to',
  ]);
  assert.equal(problemsOf(withSetting(pooled({}), 'citus', undefined)).length, 1);
});

test('a pgbouncer section without the superuser password is refused naming it', () => {
  const raw = withSetting(pooled({}), 'postgresql.authentication.superuser', { username: 'postgres' });
  assert.deepEqual(problemsOf(raw), [
    'pgbouncer: needs postgresql.authentication.superuser.password: PgBouncer logs in to PostgreSQL with it',
  ]);
});

test('bad values are refused, every one naming its field', () => {
  const problems = problemsOf(
    pooled({ pool_mode: 'x', default_pool_size: -1, max_client_conn: 0, bin: '', dir: 5, tls: { cert_file: '/a' } }),
  );
  assert.deepEqual(problems, [
    'pgbouncer.bin: must not be empty',
    'pgbouncer.pool_mode: expected one of session, transaction, statement, got "x"',
    'pgbouncer.default_pool_size: must be at least 1, got -1',
    'pgbouncer.max_client_conn: must be at least 1, got 0',
    'pgbouncer.dir: expected a string, got 5',
    'pgbouncer.tls.key_file: required: pgbouncer.tls.cert_file and pgbouncer.tls.key_file go together',
  ]);
});

test('a pgbouncer section that is not a map is refused; unknown keys warn with a suggestion', () => {
  assert.deepEqual(problemsOf(pooled('managed')), ['pgbouncer: expected a map, got "managed"']);
  const { warnings } = loadConfig(writeConfig(pooled({ pool_mod: 'session' })), {});
  assert.deepEqual(warnings, ['pgbouncer.pool_mod: unknown key; ignored (did you mean "pool_mode"?)']);
});
