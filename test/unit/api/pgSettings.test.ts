// Parameter values checked the way PostgreSQL 15 reads them, against pg_settings rows as the
// server has them: units, ranges, enums, booleans, unknown and internal names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkParameter,
  checkSettingValue,
  indexSettings,
  parsePgBool,
  parsePgSettings,
  type PgSetting,
} from '../../../src/api/pgSettings.ts';
import type { Scalar } from '../../../src/config/types.ts';

function row(
  name: string,
  vartype: string,
  context: string,
  extra: Partial<Pick<PgSetting, 'unit' | 'min_val' | 'max_val' | 'enumvals'>> = {},
): PgSetting {
  return { name, vartype, context, unit: null, min_val: null, max_val: null, enumvals: null, ...extra };
}

const INT_MAX = '2147483647';
// As PostgreSQL 15's pg_settings has them.
const ROWS: PgSetting[] = [
  row('work_mem', 'integer', 'user', { unit: 'kB', min_val: '64', max_val: INT_MAX }),
  row('shared_buffers', 'integer', 'postmaster', { unit: '8kB', min_val: '16', max_val: '1073741823' }),
  row('max_connections', 'integer', 'postmaster', { min_val: '1', max_val: '262143' }),
  row('statement_timeout', 'integer', 'user', { unit: 'ms', min_val: '0', max_val: INT_MAX }),
  row('autovacuum_naptime', 'integer', 'sighup', { unit: 's', min_val: '1', max_val: '2147483' }),
  row('log_min_duration_statement', 'integer', 'superuser', { unit: 'ms', min_val: '-1', max_val: INT_MAX }),
  row('checkpoint_completion_target', 'real', 'sighup', { min_val: '0', max_val: '1' }),
  row('vacuum_cost_delay', 'real', 'user', { unit: 'ms', min_val: '0', max_val: '100' }),
  row('wal_level', 'enum', 'postmaster', { enumvals: ['minimal', 'replica', 'logical'] }),
  row('synchronous_commit', 'enum', 'user', { enumvals: ['local', 'remote_write', 'remote_apply', 'on', 'off'] }),
  row('enable_seqscan', 'bool', 'user'),
  row('application_name', 'string', 'user'),
  row('block_size', 'integer', 'internal', { min_val: '8192', max_val: '8192' }),
];
const SETTINGS = indexSettings(ROWS);
const setting = (name: string): PgSetting => ROWS.find((r) => r.name === name)!;

const VALID: Array<[string, Scalar]> = [
  ['work_mem', '64MB'],
  ['work_mem', '4096'],
  ['work_mem', 4096],
  ['work_mem', '1GB'],
  ['work_mem', '1.5MB'],
  ['work_mem', ' 64 MB '],
  ['shared_buffers', '128MB'],
  ['shared_buffers', 16384],
  ['statement_timeout', '5s'],
  ['statement_timeout', '1min'],
  ['statement_timeout', '0'],
  ['autovacuum_naptime', '1h'],
  ['autovacuum_naptime', '2000ms'],
  ['log_min_duration_statement', -1],
  ['max_connections', 100],
  ['max_connections', '0x10'],
  ['checkpoint_completion_target', 0.9],
  ['checkpoint_completion_target', '1'],
  ['vacuum_cost_delay', '2ms'],
  ['vacuum_cost_delay', '500us'],
  ['wal_level', 'logical'],
  ['wal_level', 'REPLICA'],
  ['wal_level', 'hot_standby'],
  ['synchronous_commit', 'remote_apply'],
  ['synchronous_commit', true],
  ['synchronous_commit', 'yes'],
  ['enable_seqscan', false],
  ['enable_seqscan', 'on'],
  ['enable_seqscan', 'of'],
  ['enable_seqscan', 'TRU'],
  ['enable_seqscan', 1],
  ['application_name', 'anything at all'],
];

for (const [name, value] of VALID) {
  test(`valid: ${name} = ${JSON.stringify(value)}`, () => {
    assert.equal(checkSettingValue(setting(name), value), null);
  });
}

const INVALID: Array<[string, Scalar, string]> = [
  ['work_mem', 'banana', 'expected an integer (in kB) or an integer with a unit: B, kB, MB, GB, TB, got "banana"'],
  ['work_mem', '64 parsecs', 'unknown unit "parsecs" in "64 parsecs": valid units are B, kB, MB, GB, TB'],
  ['work_mem', '5s', 'unknown unit "s" in "5s": valid units are B, kB, MB, GB, TB'],
  ['work_mem', '64mb', 'unknown unit "mb" in "64mb": valid units are B, kB, MB, GB, TB'],
  ['work_mem', '32', '"32" is outside the range 64..2147483647 kB'],
  ['work_mem', 32, '32 is outside the range 64..2147483647 kB'],
  ['work_mem', '3TB', '"3TB" (3221225472 kB) is outside the range 64..2147483647 kB'],
  ['work_mem', true, 'expected an integer (in kB) or an integer with a unit: B, kB, MB, GB, TB, got true'],
  ['shared_buffers', '64kB', '"64kB" (8 8kB) is outside the range 16..1073741823 8kB'],
  ['statement_timeout', '10MB', 'unknown unit "MB" in "10MB": valid units are us, ms, s, min, h, d'],
  ['max_connections', -5, '-5 is outside the range 1..262143'],
  ['max_connections', '10MB', 'expected an integer without a unit, got "10MB"'],
  ['checkpoint_completion_target', 1.5, '1.5 is outside the range 0..1'],
  ['checkpoint_completion_target', 'half', 'expected a number, got "half"'],
  ['wal_level', 'loud', 'expected one of minimal, replica, logical, got "loud"'],
  ['wal_level', true, 'expected one of minimal, replica, logical, got true'],
  ['enable_seqscan', 'maybe', 'expected a boolean (on, off, true, false, yes, no, 1, 0), got "maybe"'],
  ['enable_seqscan', 'o', 'expected a boolean (on, off, true, false, yes, no, 1, 0), got "o"'],
  ['enable_seqscan', 2, 'expected a boolean (on, off, true, false, yes, no, 1, 0), got 2'],
];

for (const [name, value, reason] of INVALID) {
  test(`invalid: ${name} = ${JSON.stringify(value)}`, () => {
    assert.equal(checkSettingValue(setting(name), value), reason);
  });
}

test('checkParameter: postmaster settings need a restart, others do not; names are case-insensitive', () => {
  assert.deepEqual(checkParameter(SETTINGS, 'max_connections', 200), { kind: 'ok', restart: true });
  assert.deepEqual(checkParameter(SETTINGS, 'Work_Mem', '8MB'), { kind: 'ok', restart: false });
});

test('checkParameter: unknown names are refused, dotted ones are custom options, internal ones fixed', () => {
  assert.deepEqual(checkParameter(SETTINGS, 'no_such_setting', 1), {
    kind: 'invalid',
    reason: "unknown parameter: the server's pg_settings has no such name",
  });
  assert.deepEqual(checkParameter(SETTINGS, 'citus.max_worker_nodes', 10), { kind: 'custom' });
  assert.equal(checkParameter(SETTINGS, 'block_size', 8192).kind, 'invalid');
  assert.equal(checkParameter(SETTINGS, 'work_mem', 'banana').kind, 'invalid');
});

test("parsePgBool: PostgreSQL's words and unique prefixes, any case", () => {
  for (const word of ['on', 'ON', 't', 'true', 'y', 'yes', '1', true]) assert.equal(parsePgBool(word), true, `${word}`);
  for (const word of ['off', 'of', 'f', 'FALSE', 'n', 'no', '0', false])
    assert.equal(parsePgBool(word), false, `${word}`);
  for (const word of ['o', '', 'onn', 'maybe', '2']) assert.equal(parsePgBool(word), null, `${word}`);
});

test('parsePgSettings: the rows of GET /pg_settings; anything else is null', () => {
  assert.deepEqual(parsePgSettings(JSON.parse(JSON.stringify(ROWS))), ROWS);
  assert.equal(parsePgSettings({ rows: [] }), null);
  assert.equal(parsePgSettings([{ name: 'x' }]), null);
  assert.equal(parsePgSettings([{ ...ROWS[0], enumvals: [1] }]), null);
});
