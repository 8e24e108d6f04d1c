import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_DYNAMIC_CONFIG } from '../../../src/config/dynamic.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { ConfigError } from '../../../src/errors.ts';
import { minimalConfig, tempDir, withSetting, writeConfig, writeFiles } from './helpers.ts';

const FIXTURE = path.resolve(import.meta.dirname, '../../fixtures/patroni-citus.yml');

/** The problem lines of the ConfigError that loading throws. */
function problemsOf(file: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig(file, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
  }
  assert.fail('expected the configuration to be refused');
}

test('a Patroni citus member configuration loads unchanged, without warnings', () => {
  const { config, warnings } = loadConfig(FIXTURE, {});
  assert.deepEqual(warnings, []);
  assert.equal(config.scope, 'demo');
  assert.equal(config.namespace, 'service');
  assert.equal(config.name, 'worker1-a');
  assert.deepEqual(config.citus, { group: 1, database: 'citus' });
  assert.deepEqual(config.etcd3.hosts, ['10.0.1.1:2379', '10.0.1.2:2379', '10.0.1.3:2379']);
  assert.deepEqual(config.restapi.listen, { host: '0.0.0.0', port: 8008 });
  assert.deepEqual(config.restapi.connect_address, { host: '10.0.1.21', port: 8008 });
  assert.deepEqual(config.restapi.authentication, { username: 'patroni', password: 'rest-secret' });
  assert.equal(config.bootstrap.dcs.postgresql.use_pg_rewind, true);
  assert.equal(config.bootstrap.dcs.postgresql.parameters.max_prepared_transactions, 400);
  // YAML 1.1, as PyYAML reads Patroni files: an unquoted `on` is a boolean.
  assert.equal(config.bootstrap.dcs.postgresql.parameters.archive_mode, true);
  assert.deepEqual(config.bootstrap.initdb, [{ encoding: 'UTF8' }, 'data-checksums', { locale: 'C.UTF-8' }]);
  assert.deepEqual(config.postgresql.listen, { hosts: ['0.0.0.0'], port: 5432 });
  assert.deepEqual(config.postgresql.connect_address, { host: '10.0.1.21', port: 5432 });
  assert.equal(config.postgresql.data_dir, '/var/lib/postgresql/15/demo');
  assert.equal(config.postgresql.bin_dir, '/usr/lib/postgresql/15/bin');
  assert.equal(config.postgresql.pgpass, '/var/lib/postgresql/pgpass');
  assert.deepEqual(config.postgresql.authentication.rewind, { username: 'rewind_user', password: 'rewind_password' });
  assert.equal(config.postgresql.pg_hba?.length, 4);
  assert.deepEqual(config.postgresql.basebackup, ['verbose', { 'max-rate': '100M' }, { checkpoint: 'fast' }]);
  assert.equal(config.tags.zone, 'eu-west-1a');
  assert.equal(config.tags.nofailover, false);
});

test('defaults follow Patroni where a setting is absent', () => {
  const { config, warnings } = loadConfig(writeConfig(minimalConfig()), {});
  assert.deepEqual(warnings, []);
  assert.equal(config.namespace, 'service');
  assert.equal(config.citus, null);
  assert.deepEqual(config.bootstrap.dcs, DEFAULT_DYNAMIC_CONFIG);
  assert.equal(config.bootstrap.dcs.ttl, 30);
  assert.equal(config.bootstrap.dcs.loop_wait, 10);
  assert.equal(config.bootstrap.dcs.retry_timeout, 10);
  assert.equal(config.bootstrap.dcs.maximum_lag_on_failover, 1048576);
  assert.equal(config.bootstrap.dcs.primary_start_timeout, 300);
  assert.equal(config.bootstrap.dcs.postgresql.use_slots, true);
  assert.equal(config.bootstrap.dcs.postgresql.use_pg_rewind, false);
  assert.deepEqual(config.bootstrap.initdb, []);
  assert.deepEqual(config.restapi.connect_address, { host: '10.0.0.5', port: 8008 });
  assert.deepEqual(config.postgresql.connect_address, { host: '10.0.0.5', port: 5432 });
  assert.deepEqual(config.postgresql.authentication.superuser, { username: 'postgres' });
  assert.equal(config.postgresql.pg_ctl_timeout, 60);
  assert.deepEqual(config.postgresql.basebackup, [{ checkpoint: 'fast' }]);
  assert.equal(config.postgresql.pg_hba, null);
  assert.equal(config.postgresql.bin_dir, '');
  assert.ok(path.isAbsolute(config.postgresql.pgpass));
  assert.deepEqual(config.tags, {
    nofailover: false,
    noloadbalance: false,
    clonefrom: false,
    nosync: false,
    nostream: false,
    failover_priority: 1,
    sync_priority: 1,
  });
  assert.deepEqual(config.log, { level: 'info', dir: null, file_size: 25_000_000, file_num: 4 });
});

test('namespace "/service/" and "service" name the same prefix', () => {
  const a = loadConfig(writeConfig(withSetting(minimalConfig(), 'namespace', '/service/')), {}).config;
  const b = loadConfig(writeConfig(withSetting(minimalConfig(), 'namespace', 'service')), {}).config;
  assert.equal(a.namespace, 'service');
  assert.equal(b.namespace, 'service');
});

test('etcd3.host alone and a comma-separated etcd3.hosts string are both accepted', () => {
  const single = withSetting(minimalConfig(), 'etcd3', { host: '10.0.0.1:2379' });
  assert.deepEqual(loadConfig(writeConfig(single), {}).config.etcd3.hosts, ['10.0.0.1:2379']);
  const comma = withSetting(minimalConfig(), 'etcd3', { hosts: '10.0.0.1:2379, 10.0.0.2:2379' });
  assert.deepEqual(loadConfig(writeConfig(comma), {}).config.etcd3.hosts, ['10.0.0.1:2379', '10.0.0.2:2379']);
});

test('postgresql.connect_address is derived from the one non-loopback listen host', () => {
  const cfg = withSetting(minimalConfig(), 'postgresql.listen', '127.0.0.1,10.0.0.7:5433');
  assert.deepEqual(loadConfig(writeConfig(cfg), {}).config.postgresql.connect_address, {
    host: '10.0.0.7',
    port: 5433,
  });
});

test('nofailover true alone implies failover_priority 0, and failover_priority 0 alone implies nofailover', () => {
  const a = loadConfig(writeConfig(withSetting(minimalConfig(), 'tags', { nofailover: true })), {}).config.tags;
  assert.equal(a.failover_priority, 0);
  const b = loadConfig(writeConfig(withSetting(minimalConfig(), 'tags', { failover_priority: 0 })), {}).config.tags;
  assert.equal(b.nofailover, true);
});

test('a basebackup list that sets checkpoint keeps it instead of adding fast', () => {
  const cfg = withSetting(minimalConfig(), 'postgresql.basebackup', [{ checkpoint: 'spread' }]);
  assert.deepEqual(loadConfig(writeConfig(cfg), {}).config.postgresql.basebackup, [{ checkpoint: 'spread' }]);
});

test('postgresql.callbacks: each command line split into its words; an unknown event is warned about', () => {
  const cfg = withSetting(minimalConfig(), 'postgresql.callbacks', {
    on_role_change: "/usr/local/bin/vip.sh --dev 'eth 0'",
    on_stop: '/usr/local/bin/vip.sh',
    on_restrat: '/bin/true',
  });
  const { config, warnings } = loadConfig(writeConfig(cfg), {});
  assert.deepEqual(config.postgresql.callbacks, {
    on_stop: ['/usr/local/bin/vip.sh'],
    on_role_change: ['/usr/local/bin/vip.sh', '--dev', 'eth 0'],
  });
  assert.deepEqual(warnings, ['postgresql.callbacks.on_restrat: unknown key; ignored (did you mean "on_restart"?)']);
  assert.deepEqual(loadConfig(writeConfig(minimalConfig()), {}).config.postgresql.callbacks, {});
});

test('restapi.allowlist and allowlist_include_members are read as given', () => {
  let cfg = withSetting(minimalConfig(), 'restapi.allowlist', [
    '10.0.0.0/8',
    '127.0.0.1',
    'fd00::/8',
    'haproxy.example',
  ]);
  cfg = withSetting(cfg, 'restapi.allowlist_include_members', true);
  const { restapi } = loadConfig(writeConfig(cfg), {}).config;
  assert.deepEqual(restapi.allowlist, ['10.0.0.0/8', '127.0.0.1', 'fd00::/8', 'haproxy.example']);
  assert.equal(restapi.allowlist_include_members, true);
  const plain = loadConfig(writeConfig(minimalConfig()), {}).config.restapi;
  assert.deepEqual([plain.allowlist, plain.allowlist_include_members], [undefined, undefined]);
});

test('restapi.certfile and its companions make restapi.tls; verify_client in any case, none by default', () => {
  let cfg = withSetting(minimalConfig(), 'restapi.certfile', '/etc/ssl/rest.pem');
  cfg = withSetting(cfg, 'restapi.cafile', '/etc/ssl/ca.pem');
  cfg = withSetting(cfg, 'restapi.verify_client', 'Required');
  assert.deepEqual(loadConfig(writeConfig(cfg), {}).config.restapi.tls, {
    certfile: '/etc/ssl/rest.pem',
    cafile: '/etc/ssl/ca.pem',
    verify_client: 'required',
  });
  const bare = withSetting(minimalConfig(), 'restapi.certfile', '/etc/ssl/rest.pem');
  assert.deepEqual(loadConfig(writeConfig(bare), {}).config.restapi.tls, {
    certfile: '/etc/ssl/rest.pem',
    verify_client: 'none',
  });
  assert.equal(loadConfig(writeConfig(minimalConfig()), {}).config.restapi.tls, undefined);
});

test('restapi extra headers: https_extra_headers over http_extra_headers, and only over TLS', () => {
  let cfg = withSetting(minimalConfig(), 'restapi.http_extra_headers', { 'X-Frame-Options': 'DENY', 'X-Max': 5 });
  cfg = withSetting(cfg, 'restapi.https_extra_headers', { 'Strict-Transport-Security': 'max-age=31536000' });
  assert.deepEqual(loadConfig(writeConfig(cfg), {}).config.restapi.extra_headers, {
    'X-Frame-Options': 'DENY',
    'X-Max': '5',
  });
  cfg = withSetting(cfg, 'restapi.certfile', '/etc/ssl/rest.pem');
  assert.deepEqual(loadConfig(writeConfig(cfg), {}).config.restapi.extra_headers, {
    'X-Frame-Options': 'DENY',
    'X-Max': '5',
    'Strict-Transport-Security': 'max-age=31536000',
  });
  assert.equal(loadConfig(writeConfig(minimalConfig()), {}).config.restapi.extra_headers, undefined);
});

test('postgresql.pre_promote: the command line split into its words; absent by default', () => {
  const cfg = withSetting(minimalConfig(), 'postgresql.pre_promote', '/usr/local/bin/fence --host "old primary"');
  const { config } = loadConfig(writeConfig(cfg), {});
  assert.deepEqual(config.postgresql.pre_promote, ['/usr/local/bin/fence', '--host', 'old primary']);
  assert.equal(loadConfig(writeConfig(minimalConfig()), {}).config.postgresql.pre_promote, undefined);
});

test('a directory of YAML files is merged in alphabetical order, maps deeply', () => {
  const base = withSetting(minimalConfig(), 'postgresql.parameters', { work_mem: '4MB', shared_buffers: '128MB' });
  const dir = writeFiles({
    '20-node.yaml': 'name: node2\npostgresql:\n  parameters:\n    work_mem: 8MB\n',
    '00-base.yml': base,
    '30-last.yml': 'name: node3\ntags:\n  zone: b\n',
    'README.md': 'name: not-yaml-config\n',
    '10-off.yml.disabled': 'name: ignored\n',
  });
  fs.mkdirSync(path.join(dir, '05-subdir.yml'));
  const { config } = loadConfig(dir, {});
  assert.equal(config.name, 'node3');
  assert.deepEqual(config.postgresql.parameters, { work_mem: '8MB', shared_buffers: '128MB' });
  assert.equal(config.postgresql.data_dir, '/var/lib/postgresql/data');
  assert.equal(config.tags.zone, 'b');
});

test('a null in a later file removes the setting, as in Patroni', () => {
  const dir = writeFiles({
    'a.yml': withSetting(minimalConfig(), 'citus', { group: 1, database: 'citus' }),
    'b.yml': 'citus: null\n',
  });
  assert.equal(loadConfig(dir, {}).config.citus, null);
});

test('an empty directory is refused', () => {
  const dir = tempDir();
  assert.deepEqual(problemsOf(dir), [`${dir}: directory holds no *.yml or *.yaml file`]);
});

test('SHARDHERD_* variables override the file', () => {
  const env = {
    SHARDHERD_NAME: 'from-env',
    SHARDHERD_SCOPE: 'envscope',
    SHARDHERD_NAMESPACE: '/other/',
    SHARDHERD_CITUS_GROUP: '2',
    SHARDHERD_CITUS_DATABASE: 'app',
    SHARDHERD_RESTAPI_LISTEN: '10.9.9.9:9008',
    SHARDHERD_RESTAPI_CONNECT_ADDRESS: 'node.example:9008',
    SHARDHERD_ETCD3_HOSTS: '10.0.0.1:2379,10.0.0.2:2379',
    SHARDHERD_POSTGRESQL_LISTEN: '10.9.9.9:6432',
    SHARDHERD_POSTGRESQL_CONNECT_ADDRESS: 'node.example:6432',
    SHARDHERD_POSTGRESQL_DATA_DIR: '/data/pg',
    SHARDHERD_POSTGRESQL_BIN_DIR: '/usr/lib/postgresql/15/bin',
    SHARDHERD_POSTGRESQL_PGPASS: '/tmp/pgpass-env',
    SHARDHERD_SUPERUSER_USERNAME: 'admin',
    SHARDHERD_SUPERUSER_PASSWORD: 'admin-pw',
    SHARDHERD_REPLICATION_USERNAME: 'repl',
    SHARDHERD_REPLICATION_PASSWORD: 'repl-pw',
    SHARDHERD_LOG_LEVEL: 'DEBUG',
  };
  const { config } = loadConfig(writeConfig(minimalConfig()), env);
  assert.equal(config.name, 'from-env');
  assert.equal(config.scope, 'envscope');
  assert.equal(config.namespace, 'other');
  assert.deepEqual(config.citus, { group: 2, database: 'app' });
  assert.deepEqual(config.restapi.listen, { host: '10.9.9.9', port: 9008 });
  assert.deepEqual(config.restapi.connect_address, { host: 'node.example', port: 9008 });
  assert.deepEqual(config.etcd3.hosts, ['10.0.0.1:2379', '10.0.0.2:2379']);
  assert.deepEqual(config.postgresql.listen, { hosts: ['10.9.9.9'], port: 6432 });
  assert.deepEqual(config.postgresql.connect_address, { host: 'node.example', port: 6432 });
  assert.equal(config.postgresql.data_dir, '/data/pg');
  assert.equal(config.postgresql.bin_dir, '/usr/lib/postgresql/15/bin');
  assert.equal(config.postgresql.pgpass, '/tmp/pgpass-env');
  assert.deepEqual(config.postgresql.authentication.superuser, { username: 'admin', password: 'admin-pw' });
  assert.deepEqual(config.postgresql.authentication.replication, { username: 'repl', password: 'repl-pw' });
  assert.equal(config.log.level, 'debug');
});

test('PATRONI_* spellings are accepted for migration', () => {
  const env = {
    PATRONI_NAME: 'patroni-name',
    PATRONI_CITUS_GROUP: '3',
    PATRONI_CITUS_DATABASE: 'citus',
    PATRONI_ETCD3_HOSTS: "['10.0.0.3:2379', '10.0.0.4:2379']",
    PATRONI_REPLICATION_USERNAME: 'standby',
  };
  const { config } = loadConfig(writeConfig(minimalConfig()), env);
  assert.equal(config.name, 'patroni-name');
  assert.deepEqual(config.citus, { group: 3, database: 'citus' });
  assert.deepEqual(config.etcd3.hosts, ['10.0.0.3:2379', '10.0.0.4:2379']);
  assert.equal(config.postgresql.authentication.replication.username, 'standby');
});

test('the SHARDHERD_ spelling wins over PATRONI_, and an empty variable counts as unset', () => {
  const env = { PATRONI_NAME: 'old', SHARDHERD_NAME: 'new', SHARDHERD_SCOPE: '', PATRONI_SCOPE: 'patroni-scope' };
  const { config } = loadConfig(writeConfig(minimalConfig()), env);
  assert.equal(config.name, 'new');
  assert.equal(config.scope, 'patroni-scope');
});

test('an environment value of the wrong type is an error naming the variable', () => {
  const file = writeConfig(minimalConfig());
  assert.deepEqual(problemsOf(file, { SHARDHERD_CITUS_GROUP: 'one', SHARDHERD_CITUS_DATABASE: 'citus' }), [
    'SHARDHERD_CITUS_GROUP: expected an integer, got "one" (sets citus.group)',
  ]);
  assert.deepEqual(problemsOf(file, { PATRONI_RESTAPI_LISTEN: 'nowhere' }), [
    'PATRONI_RESTAPI_LISTEN: expected host:port, got "nowhere" (sets restapi.listen)',
  ]);
  assert.deepEqual(problemsOf(file, { SHARDHERD_ETCD3_HOSTS: '10.0.0.1:2379,bad' }), [
    'SHARDHERD_ETCD3_HOSTS: expected host:port, got "bad" (sets etcd3.hosts[1])',
  ]);
});

test('every problem is reported at once, each with its path', () => {
  let cfg = withSetting(minimalConfig(), 'postgresql.listen', 'abc');
  cfg = withSetting(cfg, 'scope', undefined);
  cfg = withSetting(cfg, 'bootstrap.dcs.ttl', 'long');
  assert.deepEqual(problemsOf(writeConfig(cfg)), [
    'scope: required',
    'bootstrap.dcs.ttl: expected an integer, got "long"',
    'postgresql.listen: expected host:port, got "abc"',
  ]);
});

/** [what is wrong, dotted setting, value (undefined deletes), the one expected problem line]. */
const INVALID: Array<[string, string, unknown, string]> = [
  ['listen without port', 'postgresql.listen', 'abc', 'postgresql.listen: expected host:port, got "abc"'],
  [
    'port out of range',
    'restapi.listen',
    '10.0.0.5:70000',
    'restapi.listen: port must be between 1 and 65535, got "10.0.0.5:70000"',
  ],
  ['scope missing', 'scope', undefined, 'scope: required'],
  ['name with a slash', 'name', 'a/b', 'name: must not contain "/", got "a/b"'],
  ['name as a number', 'name', 7, 'name: expected a string, got 7 (quote it)'],
  ['namespace of slashes only', 'namespace', '//', 'namespace: must name a key prefix, got "//"'],
  ['ttl not an integer', 'bootstrap.dcs.ttl', 'abc', 'bootstrap.dcs.ttl: expected an integer, got "abc"'],
  ['loop_wait zero', 'bootstrap.dcs.loop_wait', 0, 'bootstrap.dcs.loop_wait: must be at least 1, got 0'],
  [
    'negative lag',
    'bootstrap.dcs.maximum_lag_on_failover',
    -1,
    'bootstrap.dcs.maximum_lag_on_failover: must be at least 0, got -1',
  ],
  [
    'citus without database',
    'citus',
    { group: 1 },
    'citus.database: required (the database where the citus extension lives)',
  ],
  ['negative citus group', 'citus', { group: -1, database: 'citus' }, 'citus.group: must be at least 0, got -1'],
  [
    'etcd3 missing',
    'etcd3',
    undefined,
    'etcd3: required: Shardherd keeps its state in etcd (v3 API), e.g. etcd3: {hosts: [10.0.0.1:2379]}',
  ],
  ['etcd3 host malformed', 'etcd3.hosts', ['10.0.0.1:2379', 'nope'], 'etcd3.hosts[1]: expected host:port, got "nope"'],
  ['etcd3 without hosts', 'etcd3', { protocol: 'http' }, 'etcd3.hosts: required (a list of host:port)'],
  ['etcd3 protocol', 'etcd3.protocol', 'ftp', 'etcd3.protocol: expected "http" or "https", got "ftp"'],
  ['etcd3 cert without key', 'etcd3.cert', '/etc/cert.pem', 'etcd3.key: etcd3.cert and etcd3.key go together'],
  [
    'replication user missing',
    'postgresql.authentication',
    { superuser: { username: 'postgres' } },
    'postgresql.authentication.replication: required (username of the replication user)',
  ],
  [
    'replication username missing',
    'postgresql.authentication.replication',
    { password: 'x' },
    'postgresql.authentication.replication.username: required',
  ],
  [
    'password as a number',
    'postgresql.authentication.replication.password',
    1234,
    'postgresql.authentication.replication.password: expected a string, got a number (quote it)',
  ],
  [
    'wildcard connect address',
    'postgresql.connect_address',
    '0.0.0.0:5432',
    'postgresql.connect_address: must be an address other members can reach, not a wildcard, got "0.0.0.0:5432"',
  ],
  [
    'rest API on a wildcard without connect address',
    'restapi.listen',
    '0.0.0.0:8008',
    'restapi.connect_address: required when restapi.listen is a wildcard address (0.0.0.0:8008)',
  ],
  [
    'postgresql listen on a wildcard without connect address',
    'postgresql.listen',
    '*:5432',
    'postgresql.connect_address: required: cannot derive one address from postgresql.listen (*:5432)',
  ],
  [
    '"*" with another host',
    'postgresql.listen',
    '*,10.0.0.5:5432',
    'postgresql.listen: "*" must be the only host, got "*,10.0.0.5:5432"',
  ],
  ['data_dir missing', 'postgresql.data_dir', undefined, 'postgresql.data_dir: required'],
  ['data_dir empty', 'postgresql.data_dir', ' ', 'postgresql.data_dir: must not be empty'],
  [
    'nofailover against failover_priority',
    'tags',
    { nofailover: true, failover_priority: 2 },
    'tags.failover_priority: conflicts with tags.nofailover: true; ' +
      'nofailover true means failover_priority 0 and false means a priority above 0, got 2',
  ],
  [
    'nofailover false with priority 0',
    'tags',
    { nofailover: false, failover_priority: 0 },
    'tags.failover_priority: conflicts with tags.nofailover: false; ' +
      'nofailover true means failover_priority 0 and false means a priority above 0, got 0',
  ],
  [
    'tag not a boolean',
    'tags',
    { noloadbalance: 'sometimes' },
    'tags.noloadbalance: expected true or false, got "sometimes"',
  ],
  [
    'initdb option Shardherd sets',
    'bootstrap.initdb',
    ['data-checksums', { pgdata: '/x' }],
    'bootstrap.initdb[1]: option pgdata is set by Shardherd itself and must not be configured',
  ],
  [
    'initdb map with two keys',
    'bootstrap.initdb',
    [{ encoding: 'UTF8', locale: 'C' }],
    'bootstrap.initdb[0]: expected an option name or a one-key map {option: value}, got a map',
  ],
  [
    'basebackup option Shardherd sets',
    'postgresql.basebackup',
    [{ 'wal-method': 'fetch' }],
    'postgresql.basebackup[0]: option wal-method is set by Shardherd itself and must not be configured',
  ],
  [
    'use_pg_rewind not a boolean',
    'bootstrap.dcs.postgresql.use_pg_rewind',
    'maybe',
    'bootstrap.dcs.postgresql.use_pg_rewind: expected true or false, got "maybe"',
  ],
  [
    'pg_ctl_timeout not an integer',
    'postgresql.pg_ctl_timeout',
    'soon',
    'postgresql.pg_ctl_timeout: expected an integer, got "soon"',
  ],
  [
    'max_connections below Patroni minimum',
    'bootstrap.dcs.postgresql.parameters',
    { max_connections: 10 },
    'bootstrap.dcs.postgresql.parameters.max_connections: must be at least 25, got 10',
  ],
  [
    'wal_level minimal',
    'bootstrap.dcs.postgresql.parameters',
    { wal_level: 'minimal' },
    'bootstrap.dcs.postgresql.parameters.wal_level: expected one of hot_standby, replica, logical, got "minimal"',
  ],
  [
    'parameters as a list',
    'postgresql.parameters',
    ['work_mem=4MB'],
    'postgresql.parameters: expected a map, got a list',
  ],
  [
    'parameter value a map',
    'postgresql.parameters',
    { work_mem: { a: 1 } },
    'postgresql.parameters.work_mem: expected a string, number or boolean, got a map',
  ],
  [
    'pg_hba not a list',
    'postgresql.pg_hba',
    'host all all 0.0.0.0/0 md5',
    'postgresql.pg_hba: expected a list of strings, got "host all all 0.0.0.0/0 md5"',
  ],
  [
    'log level',
    'log.level',
    'LOUD',
    'log.level: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL (or trace, silent), got "LOUD"',
  ],
  ['log dir empty', 'log.dir', ' ', 'log.dir: must not be empty'],
  ['log file_size not a number', 'log.file_size', '25MB', 'log.file_size: expected an integer, got "25MB"'],
  ['log file_size zero', 'log.file_size', 0, 'log.file_size: must be at least 1, got 0'],
  ['log file_num negative', 'log.file_num', -1, 'log.file_num: must be at least 0, got -1'],
  ['restapi a string', 'restapi', '0.0.0.0:8008', 'restapi: expected a map, got "0.0.0.0:8008"'],
  ['callbacks a string', 'postgresql.callbacks', '/bin/cb', 'postgresql.callbacks: expected a map, got "/bin/cb"'],
  ['callback empty', 'postgresql.callbacks', { on_stop: ' ' }, 'postgresql.callbacks.on_stop: must not be empty'],
  [
    'callback with an open quote',
    'postgresql.callbacks',
    { on_start: "/bin/cb 'eth0" },
    "postgresql.callbacks.on_start: the quote ' is not closed",
  ],
  [
    'allowlist network with a bad prefix',
    'restapi.allowlist',
    ['10.0.0.0/8', '10.0.0.0/33'],
    'restapi.allowlist[1]: not a network in CIDR notation (address/prefix): "10.0.0.0/33"',
  ],
  [
    'allowlist entry with a space',
    'restapi.allowlist',
    ['db 1'],
    'restapi.allowlist[0]: not an address or host name: "db 1"',
  ],
  [
    'allowlist a string',
    'restapi.allowlist',
    '10.0.0.0/8',
    'restapi.allowlist: expected a list of strings, got "10.0.0.0/8"',
  ],
  [
    'allowlist_include_members not a boolean',
    'restapi.allowlist_include_members',
    'members',
    'restapi.allowlist_include_members: expected true or false, got "members"',
  ],
  [
    'keyfile without certfile',
    'restapi.keyfile',
    '/etc/ssl/rest.key',
    'restapi.keyfile: needs restapi.certfile (without it the API is plain HTTP)',
  ],
  [
    'verify_client unknown',
    'restapi',
    { listen: '127.0.0.1:8008', certfile: '/etc/ssl/rest.pem', verify_client: 'always' },
    'restapi.verify_client: expected one of none, optional, required, got "always"',
  ],
  [
    'http_extra_headers a list',
    'restapi.http_extra_headers',
    ['X-Frame-Options: DENY'],
    'restapi.http_extra_headers: expected a map, got a list',
  ],
  ['pre_promote a number', 'postgresql.pre_promote', 1, 'postgresql.pre_promote: expected a string, got 1'],
  [
    'pre_promote with an open quote',
    'postgresql.pre_promote',
    'fence "x',
    'postgresql.pre_promote: the quote " is not closed',
  ],
  [
    'callback a list',
    'postgresql.callbacks',
    { on_role_change: ['/bin/cb'] },
    'postgresql.callbacks.on_role_change: expected a string, got a list',
  ],
];

test("Patroni's log.dir, log.file_size and log.file_num, from the file or the environment", () => {
  const file = writeConfig(withSetting(minimalConfig(), 'log', { dir: 'logs', file_size: '1000', file_num: 0 }));
  const { config } = loadConfig(file, {});
  assert.deepEqual(config.log, { level: 'info', dir: path.resolve('logs'), file_size: 1000, file_num: 0 });
  const env = { PATRONI_LOG_DIR: '/var/log/shardherd', PATRONI_LOG_FILE_SIZE: '5000', PATRONI_LOG_FILE_NUM: '2' };
  const fromEnv = loadConfig(writeConfig(minimalConfig()), env).config.log;
  assert.deepEqual(fromEnv, { level: 'info', dir: '/var/log/shardherd', file_size: 5000, file_num: 2 });
});

for (const [what, at, value, expected] of INVALID) {
  test(`invalid input is refused with its own message: ${what}`, () => {
    assert.deepEqual(problemsOf(writeConfig(withSetting(minimalConfig(), at, value))), [expected]);
  });
}

test('invalid YAML is reported with file, line and column', () => {
  const file = writeConfig('scope: demo\nname: [unclosed\n');
  const problems = problemsOf(file);
  assert.equal(problems.length, 1);
  assert.match(
    problems[0],
    new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid YAML: line \\d+, column \\d+: `),
  );
});

test('a file that is not a map of settings is refused', () => {
  const file = writeConfig('- just\n- a list\n');
  assert.deepEqual(problemsOf(file), [`${file}: expected a map of settings, got a list`]);
});

test('a missing file is refused with its path', () => {
  const file = path.join(tempDir(), 'absent.yml');
  assert.deepEqual(problemsOf(file), [`${file}: cannot read: ENOENT`]);
});

test('timing rule: loop_wait + 2*retry_timeout may equal ttl but not exceed it', () => {
  const ok = withSetting(minimalConfig(), 'bootstrap.dcs', { ttl: 30, loop_wait: 10, retry_timeout: 10 });
  assert.equal(loadConfig(writeConfig(ok), {}).config.bootstrap.dcs.ttl, 30);
  const bad = withSetting(minimalConfig(), 'bootstrap.dcs', { ttl: 30, loop_wait: 10, retry_timeout: 11 });
  assert.deepEqual(problemsOf(writeConfig(bad)), [
    'bootstrap.dcs.ttl: loop_wait + 2*retry_timeout must not exceed ttl, got 10 + 2*11 = 32 > 30',
  ]);
});

test('timing rule applies against the defaults of settings left out', () => {
  const bad = withSetting(minimalConfig(), 'bootstrap.dcs', { ttl: 25 });
  assert.deepEqual(problemsOf(writeConfig(bad)), [
    'bootstrap.dcs.ttl: loop_wait + 2*retry_timeout must not exceed ttl, got 10 + 2*10 = 30 > 25',
  ]);
  const small = withSetting(minimalConfig(), 'bootstrap.dcs', { ttl: 10, loop_wait: 2, retry_timeout: 4 });
  assert.equal(loadConfig(writeConfig(small), {}).config.bootstrap.dcs.ttl, 10);
});
