// Rendering of the managed PgBouncer's ini and auth file from a member configuration.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/load.ts';
import { PoolerError } from '../../../src/errors.ts';
import { pgbouncerSettings, renderAuthFile, renderPgbouncerIni } from '../../../src/pooler/render.ts';
import { restartDelayMs } from '../../../src/pooler/backoff.ts';
import { minimalConfig, withSetting, writeConfig } from '../config/helpers.ts';

const SERVER = { host: '10.0.0.5', port: 5432 };

function configWith(pgbouncer: Record<string, unknown>) {
  let raw = withSetting(minimalConfig(), 'citus', { group: 1, database: 'citus', pooler: '10.0.0.5:6432' });
  raw = withSetting(raw, 'postgresql.authentication.superuser', { username: 'postgres', password: 's3cret' });
  return loadConfig(writeConfig(withSetting(raw, 'pgbouncer', pgbouncer)), {}).config;
}

/** `key = value` lines of the ini as a map; the section each key sits in is checked separately. */
function iniSettings(ini: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of ini.split('\n')) {
    const m = /^([^;[\s][^=]*?)\s*=\s*(.*)$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

test('the ini forwards every database to the local PostgreSQL and listens on citus.pooler', () => {
  const settings = pgbouncerSettings(configWith({ dir: '/srv/pool' }), SERVER);
  assert.ok(settings);
  const ini = renderPgbouncerIni(settings);
  assert.match(ini, /^; Managed by Shardherd/);
  assert.ok(ini.indexOf('[databases]\n* = host=10.0.0.5 port=5432\n') < ini.indexOf('[pgbouncer]'));
  assert.deepEqual(Object.fromEntries(iniSettings(ini)), {
    '*': 'host=10.0.0.5 port=5432',
    listen_addr: '10.0.0.5',
    listen_port: '6432',
    unix_socket_dir: '/srv/pool',
    auth_type: 'scram-sha-256',
    auth_file: '/srv/pool/userlist.txt',
    admin_users: 'postgres',
    pool_mode: 'session',
    default_pool_size: '20',
    max_client_conn: '200',
    client_tls_sslmode: 'allow',
    client_tls_key_file: '/srv/pool/server.key',
    client_tls_cert_file: '/srv/pool/server.crt',
    pidfile: '/srv/pool/pgbouncer.pid',
    logfile: '/srv/pool/pgbouncer.log',
    syslog: '0',
    ignore_startup_parameters: 'extra_float_digits,options',
  });
  assert.equal(settings.generateCertificate, true);
});

test('configured sizes, pool mode and TLS files are rendered; no certificate is generated then', () => {
  const settings = pgbouncerSettings(
    configWith({
      dir: '/srv/pool',
      pool_mode: 'transaction',
      default_pool_size: 7,
      max_client_conn: 70,
      tls: { cert_file: '/etc/ssl/a.crt', key_file: '/etc/ssl/a.key' },
    }),
    SERVER,
  );
  assert.ok(settings);
  const values = iniSettings(renderPgbouncerIni(settings));
  assert.equal(values.get('pool_mode'), 'transaction');
  assert.equal(values.get('default_pool_size'), '7');
  assert.equal(values.get('max_client_conn'), '70');
  assert.equal(values.get('client_tls_cert_file'), '/etc/ssl/a.crt');
  assert.equal(values.get('client_tls_key_file'), '/etc/ssl/a.key');
  assert.equal(settings.generateCertificate, false);
});

test('the default dir sits beside data_dir', () => {
  const settings = pgbouncerSettings(configWith({}), SERVER);
  assert.equal(settings?.paths.ini, '/var/lib/postgresql/data.pgbouncer/pgbouncer.ini');
});

test('equal settings render the same bytes; a changed pool size changes the ini', () => {
  const a = pgbouncerSettings(configWith({ dir: '/p' }), SERVER);
  const b = pgbouncerSettings(configWith({ dir: '/p' }), SERVER);
  const c = pgbouncerSettings(configWith({ dir: '/p', default_pool_size: 21 }), SERVER);
  assert.ok(a && b && c);
  assert.equal(renderPgbouncerIni(a), renderPgbouncerIni(b));
  assert.notEqual(renderPgbouncerIni(a), renderPgbouncerIni(c));
});

test('a server host with a space is quoted in the connection string', () => {
  const settings = pgbouncerSettings(configWith({ dir: '/p' }), { host: '/run/my sockets', port: 5432 });
  assert.ok(settings);
  assert.match(renderPgbouncerIni(settings), /^\* = host='\/run\/my sockets' port=5432$/m);
});

test('the auth file holds the superuser with its password, double quotes doubled', () => {
  assert.equal(renderAuthFile({ username: 'postgres', password: 's3cret' }), '"postgres" "s3cret"\n');
  assert.equal(renderAuthFile({ username: 'po"st', password: 'a"b' }), '"po""st" "a""b"\n');
  assert.throws(() => renderAuthFile({ username: 'postgres', password: 'two\nlines' }), RangeError);
});

test('no settings without a pgbouncer section; a Config lacking the pooler is a PoolerError', () => {
  const plain = loadConfig(writeConfig(minimalConfig()), {}).config;
  assert.equal(pgbouncerSettings(plain, SERVER), null);
  const broken = configWith({});
  delete broken.citus?.pooler;
  assert.throws(() => pgbouncerSettings(broken, SERVER), PoolerError);
});

test('restart delays double from the first delay up to the ceiling', () => {
  const timing = { initialMs: 1000, maxMs: 30_000, stableMs: 10_000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 100].map((n) => restartDelayMs(n, timing)),
    [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000],
  );
});
