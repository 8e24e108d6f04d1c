// The pure parts of changing the dynamic configuration: -s/-p parsing (YAML 1.1 values, dotted
// keys, parameter names with dots), setPath, Patroni's merge, changed parameters, and the check
// of a candidate against the dynamic configuration's rules and pg_settings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changedParameters, checkConfig, mergePatch, parseSetPair, setPath } from '../../../src/api/configEdit.ts';
import { indexSettings } from '../../../src/api/pgSettings.ts';
import type { JsonObject } from '../../../src/config/types.ts';
import { PG_SETTING_ROWS } from './pgSettingsFixture.ts';

test('-s: a dotted key and a YAML 1.1 value', () => {
  assert.deepEqual(parseSetPair('loop_wait=5', '-s'), { path: ['loop_wait'], value: 5 });
  assert.deepEqual(parseSetPair('postgresql.use_slots=false', '-s'), {
    path: ['postgresql', 'use_slots'],
    value: false,
  });
  assert.deepEqual(parseSetPair('pause=on', '-s'), { path: ['pause'], value: true });
  assert.deepEqual(parseSetPair('citus.failure_probe_count=3', '-s'), {
    path: ['citus', 'failure_probe_count'],
    value: 3,
  });
  assert.deepEqual(parseSetPair('maximum_lag_on_failover=', '-s'), { path: ['maximum_lag_on_failover'], value: null });
  assert.deepEqual(parseSetPair('x=a=b', '-s'), { path: ['x'], value: 'a=b' });
  // As patronictl: below postgresql.parameters the rest is one name, dots included.
  assert.deepEqual(parseSetPair('postgresql.parameters.citus.max_worker_nodes=10', '-s'), {
    path: ['postgresql', 'parameters', 'citus.max_worker_nodes'],
    value: 10,
  });
});

test('-p: postgresql.parameters.<guc>, the value as YAML', () => {
  assert.deepEqual(parseSetPair('work_mem=64MB', '-p'), {
    path: ['postgresql', 'parameters', 'work_mem'],
    value: '64MB',
  });
  assert.deepEqual(parseSetPair('max_connections=100', '-p'), {
    path: ['postgresql', 'parameters', 'max_connections'],
    value: 100,
  });
  assert.deepEqual(parseSetPair('pg_stat_statements.max=5000', '-p').path, [
    'postgresql',
    'parameters',
    'pg_stat_statements.max',
  ]);
  assert.deepEqual(parseSetPair('work_mem=null', '-p').value, null);
});

test('-s and -p: bad input is one line naming the option and the pair', () => {
  assert.throws(() => parseSetPair('loop_wait', '-s'), /^ShardherdError: -s "loop_wait": expected key=value$/);
  assert.throws(() => parseSetPair('a..b=1', '-s'), /-s "a\.\.b=1": "a\.\.b" is not a dotted key/);
  assert.throws(() => parseSetPair('=1', '-s'), /-s "=1": "" is not a dotted key/);
  assert.throws(() => parseSetPair('work mem=1', '-p'), /-p "work mem=1": "work mem" is not a parameter name/);
  assert.throws(
    () => parseSetPair('work_mem=[1, 2]', '-p'),
    /-p "work_mem=\[1, 2\]": a parameter's value must be a single/,
  );
  assert.throws(() => parseSetPair('x={a', '-s'), /-s "x=\{a": the value is not valid YAML/);
});

test('setPath sets, creates maps on the way, deletes with null and drops maps left empty', () => {
  const base: JsonObject = { ttl: 30, postgresql: { parameters: { work_mem: '4MB' } } };
  assert.deepEqual(setPath(base, ['postgresql', 'parameters', 'work_mem'], '8MB'), {
    ttl: 30,
    postgresql: { parameters: { work_mem: '8MB' } },
  });
  assert.deepEqual(setPath(base, ['citus', 'failure_probe_count'], 3), { ...base, citus: { failure_probe_count: 3 } });
  assert.deepEqual(setPath(base, ['postgresql', 'parameters', 'work_mem'], null), { ttl: 30 });
  assert.deepEqual(setPath(base, ['ttl'], null), { postgresql: { parameters: { work_mem: '4MB' } } });
  assert.deepEqual(base, { ttl: 30, postgresql: { parameters: { work_mem: '4MB' } } }, 'the input is left as it was');
});

test("mergePatch: Patroni's merge; maps merge, null deletes, other values replace", () => {
  const base: JsonObject = { ttl: 30, pause: true, postgresql: { use_slots: true, parameters: { a: 1, b: 2 } } };
  assert.deepEqual(mergePatch(base, { pause: null, postgresql: { parameters: { a: null, c: 3 } }, loop_wait: 5 }), {
    ttl: 30,
    loop_wait: 5,
    postgresql: { use_slots: true, parameters: { b: 2, c: 3 } },
  });
  // A map replacing a scalar keeps no null members.
  assert.deepEqual(mergePatch({ citus: 1 }, { citus: { a: 1, b: null } }), { citus: { a: 1 } });
  assert.deepEqual(mergePatch(base, { postgresql: 'x' }), { ttl: 30, pause: true, postgresql: 'x' });
  assert.deepEqual(base.postgresql, { use_slots: true, parameters: { a: 1, b: 2 } }, 'the input is left as it was');
});

test('changedParameters: added or changed values, compared as text; removed ones are not listed', () => {
  const before: JsonObject = { postgresql: { parameters: { a: 1, b: '2', c: 'x', gone: 1 } } };
  const after: JsonObject = { postgresql: { parameters: { a: '1', b: 3, c: 'x', d: true } } };
  assert.deepEqual(changedParameters(before, after), { b: 3, d: true });
  assert.deepEqual(changedParameters({}, { postgresql: { parameters: { a: 1 } } }), { a: 1 });
  assert.deepEqual(changedParameters(before, {}), {});
});

const SETTINGS = indexSettings(PG_SETTING_ROWS);
const STORED: JsonObject = { ttl: 30, loop_wait: 10, retry_timeout: 10, postgresql: { parameters: { work_mem: 'x' } } };

test('checkConfig: the changed parameters against pg_settings; postmaster ones need a restart', () => {
  const after = mergePatch(STORED, { postgresql: { parameters: { work_mem: '8MB', max_connections: 200 } } });
  assert.deepEqual(checkConfig(STORED, after, SETTINGS), { problems: [], warnings: [], restart: ['max_connections'] });
  const bad = mergePatch(STORED, { postgresql: { parameters: { work_mem: 'banana', shared_bufers: '1GB' } } });
  assert.deepEqual(checkConfig(STORED, bad, SETTINGS).problems, [
    'postgresql.parameters.work_mem: expected an integer (in kB) or an integer with a unit: B, kB, MB, GB, TB, ' +
      'got "banana"',
    "postgresql.parameters.shared_bufers: unknown parameter: the server's pg_settings has no such name",
  ]);
});

test("checkConfig: the dynamic configuration's own rules come first, once per parameter", () => {
  const timing = mergePatch(STORED, { loop_wait: 20 });
  assert.deepEqual(checkConfig(STORED, timing, SETTINGS).problems, [
    'ttl: loop_wait + 2*retry_timeout must not exceed ttl, got 20 + 2*10 = 40 > 30',
  ]);
  const low = mergePatch(STORED, { postgresql: { parameters: { max_connections: -5 } } });
  assert.deepEqual(checkConfig(STORED, low, SETTINGS).problems, [
    'postgresql.parameters.max_connections: must be at least 25, got -5',
  ]);
  const types = mergePatch(STORED, { ttl: 'soon', postgresql: { use_slots: 'maybe' } });
  assert.deepEqual(checkConfig(STORED, types, null).problems, [
    'ttl: expected an integer, got "soon"',
    'postgresql.use_slots: expected true or false, got "maybe"',
  ]);
});

test('checkConfig: custom options and keys Shardherd ignores are warnings; without settings no server check', () => {
  const after = mergePatch(STORED, { slots: {}, postgresql: { parameters: { 'citus.node_conninfo': 'x' } } });
  const check = checkConfig(STORED, after, SETTINGS);
  assert.deepEqual(check.problems, []);
  assert.deepEqual(check.warnings, [
    'slots: not implemented yet by Shardherd; ignored (permanent replication slots)',
    'postgresql.parameters.citus.node_conninfo: not known to the server; set as a custom option',
  ]);
  const managed = mergePatch(STORED, { postgresql: { parameters: { port: 6543 } } });
  assert.deepEqual(checkConfig(STORED, managed, SETTINGS), {
    problems: [],
    warnings: ['postgresql.parameters.port: set by Shardherd itself (from postgresql.listen and scope); ignored'],
    restart: [],
  });
  const unchecked = mergePatch(STORED, { postgresql: { parameters: { work_mem: 'banana' } } });
  assert.deepEqual(checkConfig(STORED, unchecked, null).problems, []);
});
