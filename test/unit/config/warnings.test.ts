import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/load.ts';
import { minimalConfig, withSetting, writeConfig } from './helpers.ts';

function warningsFor(at: string, value: unknown): string[] {
  return loadConfig(writeConfig(withSetting(minimalConfig(), at, value)), {}).warnings;
}

/** [Patroni key Shardherd does not implement, value, the one expected warning]. */
const NOT_IMPLEMENTED: Array<[string, unknown, string]> = [
  ['watchdog', { mode: 'required', device: '/dev/watchdog' }, 'watchdog: not implemented yet by Shardherd; ignored'],
  [
    'kubernetes',
    { labels: { app: 'x' } },
    'kubernetes: not implemented yet by Shardherd; ignored (Shardherd uses etcd3 only)',
  ],
  [
    'etcd',
    { hosts: '10.0.0.1:2379' },
    'etcd: not implemented yet by Shardherd; ignored (etcd v2 API; Shardherd uses etcd3 only)',
  ],
  ['ctl', { insecure: true }, 'ctl: not implemented yet by Shardherd; ignored (patronictl settings)'],
  ['log.format', '%(message)s', 'log.format: not implemented yet by Shardherd; ignored (logs are JSON lines)'],
  ['restapi.request_queue_size', 5, 'restapi.request_queue_size: not implemented yet by Shardherd; ignored'],
  ['postgresql.pg_ident', ['map1 u1 u2'], 'postgresql.pg_ident: not implemented yet by Shardherd; ignored'],
  [
    'postgresql.create_replica_methods',
    ['wal_g', 'basebackup'],
    'postgresql.create_replica_methods: not implemented yet by Shardherd; ' +
      'ignored (replicas are cloned with pg_basebackup)',
  ],
  [
    'bootstrap.dcs.standby_cluster',
    { host: '10.0.0.9', port: 5432 },
    'bootstrap.dcs.standby_cluster: not implemented yet by Shardherd; ignored',
  ],
  [
    'bootstrap.users',
    { admin: { password: 'x' } },
    'bootstrap.users: not implemented yet by Shardherd; ignored (create users in a post-bootstrap step of your own)',
  ],
  [
    'tags.replicatefrom',
    'node2',
    'tags.replicatefrom: not implemented yet by Shardherd; replicas follow the leader (published as a plain tag)',
  ],
  [
    'loop_wait',
    5,
    'loop_wait: not implemented yet by Shardherd; ' +
      'ignored (a dynamic setting: it belongs in bootstrap.dcs or the `config` key)',
  ],
];

for (const [at, value, expected] of NOT_IMPLEMENTED) {
  test(`a Patroni key Shardherd does not implement gives one warning naming it: ${at}`, () => {
    assert.deepEqual(warningsFor(at, value), [expected]);
  });
}

test('synchronous_mode in every spelling gives no warning', () => {
  for (const value of [false, true, 'on', 'off', 'quorum']) {
    assert.deepEqual(warningsFor('bootstrap.dcs.synchronous_mode', value), [], String(value));
  }
});

test('an unknown key gives a warning suggesting the key it was probably meant to be', () => {
  assert.deepEqual(warningsFor('postgresql.data_dri', '/x'), [
    'postgresql.data_dri: unknown key; ignored (did you mean "data_dir"?)',
  ]);
  assert.deepEqual(warningsFor('bootstrap.dcs.loop_wiat', 5), [
    'bootstrap.dcs.loop_wiat: unknown key; ignored (did you mean "loop_wait"?)',
  ]);
});

test('an unknown key unlike any known one is still reported', () => {
  assert.deepEqual(warningsFor('restapi.zzzzzzzz', 1), ['restapi.zzzzzzzz: unknown key; ignored']);
});

test('a misspelt tag is published as a custom tag with a warning', () => {
  const { config, warnings } = loadConfig(writeConfig(withSetting(minimalConfig(), 'tags', { nofailvoer: true })), {});
  assert.deepEqual(warnings, [
    'tags.nofailvoer: not a known tag; published as a custom tag (did you mean "nofailover"?)',
  ]);
  assert.equal(config.tags.nofailover, false);
  assert.equal(config.tags.nofailvoer, true);
});

test('custom tags give no warning', () => {
  assert.deepEqual(warningsFor('tags', { zone: 'a', rack: 3 }), []);
});

test('cluster-wide PostgreSQL settings in the local section are ignored with a warning, as Patroni does', () => {
  const { config, warnings } = loadConfig(
    writeConfig(
      withSetting(minimalConfig(), 'postgresql.parameters', { max_connections: 500, work_mem: '8MB', port: 6000 }),
    ),
    {},
  );
  assert.deepEqual(config.postgresql.parameters, { work_mem: '8MB' });
  assert.deepEqual(warnings, [
    'postgresql.parameters.max_connections: must be equal on every member; ' +
      'set it in bootstrap.dcs.postgresql.parameters; ignored here',
    'postgresql.parameters.port: set by Shardherd itself (from postgresql.listen and scope); ignored',
  ]);
});

test('master_start_timeout is read as primary_start_timeout with a deprecation warning', () => {
  const { config, warnings } = loadConfig(
    writeConfig(withSetting(minimalConfig(), 'bootstrap.dcs.master_start_timeout', 20)),
    {},
  );
  assert.equal(config.bootstrap.dcs.primary_start_timeout, 20);
  assert.deepEqual(warnings, ['bootstrap.dcs.master_start_timeout: deprecated name; use primary_start_timeout']);
});
