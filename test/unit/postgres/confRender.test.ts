// Managed postgresql.conf / pg_hba.conf rendering and the parameters Shardherd enforces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BASE_CONF,
  isManaged,
  managedParameters,
  quoteConfValue,
  renderHba,
  renderPostgresqlConf,
  type ManagedSettings,
} from '../../../src/postgres/confRender.ts';

const primary: ManagedSettings = {
  listen: { hosts: ['127.0.0.1', '10.0.0.5'], port: 5433 },
  parameters: {},
  useRewind: false,
  standby: null,
};

const standby = {
  upstream: { host: '10.0.0.1', port: 5432 },
  user: 'replicator',
  memberName: 'node-2',
  passfile: '/home/pg/.pgpass_shardherd',
  slotName: 'node_2',
};

test('listen addresses and port come from postgresql.listen', () => {
  const p = managedParameters(primary);
  assert.equal(p.listen_addresses, '127.0.0.1,10.0.0.5');
  assert.equal(p.port, 5433);
});

test('replication settings have a floor: wal_level replica, 10 senders and slots, hot_standby on', () => {
  const p = managedParameters(primary);
  assert.deepEqual([p.wal_level, p.max_wal_senders, p.max_replication_slots, p.hot_standby], ['replica', 10, 10, 'on']);
});

test('wal_level minimal is raised to replica, logical is kept', () => {
  assert.equal(managedParameters({ ...primary, parameters: { wal_level: 'minimal' } }).wal_level, 'replica');
  assert.equal(managedParameters({ ...primary, parameters: { wal_level: 'logical' } }).wal_level, 'logical');
});

test('user values above the replication floor are kept, below it are raised', () => {
  const p = managedParameters({ ...primary, parameters: { max_wal_senders: 20, max_replication_slots: 2 } });
  assert.equal(p.max_wal_senders, 20);
  assert.equal(p.max_replication_slots, 10);
});

test('other user parameters pass through unchanged', () => {
  assert.equal(managedParameters({ ...primary, parameters: { shared_buffers: '256MB' } }).shared_buffers, '256MB');
});

test('wal_log_hints is on only when rewind is used', () => {
  assert.equal(managedParameters(primary).wal_log_hints, undefined);
  assert.equal(managedParameters({ ...primary, useRewind: true }).wal_log_hints, 'on');
});

test('a primary gets no recovery settings, even ones the user configured', () => {
  const p = managedParameters({ ...primary, parameters: { primary_conninfo: 'host=x', primary_slot_name: 's' } });
  assert.equal(p.primary_conninfo, undefined);
  assert.equal(p.primary_slot_name, undefined);
  assert.equal(p.recovery_target_timeline, undefined);
});

test('a standby follows its upstream by name, passfile and slot, on the latest timeline', () => {
  const p = managedParameters({ ...primary, standby });
  assert.equal(
    p.primary_conninfo,
    'host=10.0.0.1 port=5432 user=replicator passfile=/home/pg/.pgpass_shardherd ' +
      'application_name=node-2 sslmode=prefer',
  );
  assert.equal(p.primary_slot_name, 'node_2');
  assert.equal(p.recovery_target_timeline, 'latest');
});

test('a standby retries a lost upstream after 1 s unless the user says otherwise; a primary keeps the default', () => {
  assert.equal(managedParameters({ ...primary, standby }).wal_retrieve_retry_interval, '1s');
  const own = { ...primary, parameters: { ...primary.parameters, wal_retrieve_retry_interval: '3s' } };
  assert.equal(managedParameters({ ...own, standby }).wal_retrieve_retry_interval, '3s');
  assert.equal(managedParameters(primary).wal_retrieve_retry_interval, undefined);
});

test('a standby without slots gets no primary_slot_name', () => {
  assert.equal(managedParameters({ ...primary, standby: { ...standby, slotName: null } }).primary_slot_name, undefined);
});

test('a standby with no upstream yet has no primary_conninfo but stays on the latest timeline', () => {
  const p = managedParameters({ ...primary, standby: { ...standby, upstream: null } });
  assert.equal(p.primary_conninfo, undefined);
  assert.equal(p.primary_slot_name, undefined);
  assert.equal(p.recovery_target_timeline, 'latest');
});

test('postgresql.conf starts with the marker, includes the base file, then sorted parameters', () => {
  const text = renderPostgresqlConf({ port: 5432, listen_addresses: '*', hot_standby: true });
  assert.equal(
    text,
    [
      '# Managed by Shardherd: edits are overwritten.',
      `include '${BASE_CONF}'`,
      '',
      "hot_standby = 'on'",
      "listen_addresses = '*'",
      "port = '5432'",
      '',
    ].join('\n'),
  );
  assert.ok(isManaged(text));
});

test('configuration values escape quotes and backslashes', () => {
  assert.equal(quoteConfValue("it's"), "'it''s'");
  assert.equal(quoteConfValue('C:\\dir'), "'C:\\\\dir'");
  assert.equal(quoteConfValue(false), "'off'");
});

test('a parameter name that could inject a line is rejected', () => {
  assert.throws(() => renderPostgresqlConf({ 'port = 1\nfsync': 'off' }), /invalid parameter name/);
});

test('pg_hba.conf keeps the configured lines in order after the marker, skipping blanks', () => {
  assert.equal(
    renderHba(['local all all trust', '  ', ' host replication replicator 0.0.0.0/0 md5 ']),
    '# Managed by Shardherd: edits are overwritten.\nlocal all all trust\nhost replication replicator 0.0.0.0/0 md5\n',
  );
});

test('a user file is not mistaken for a managed one', () => {
  assert.equal(isManaged('# PostgreSQL configuration\nport = 5432\n'), false);
});
