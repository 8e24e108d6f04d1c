import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_DYNAMIC_CONFIG,
  dynamicConfigToJson,
  effectiveDynamicConfig,
  resolveDynamicConfig,
  validateDynamicConfig,
} from '../../../src/config/dynamic.ts';
import type { DynamicConfig } from '../../../src/config/types.ts';

const BOOTSTRAP: DynamicConfig = {
  ...structuredClone(DEFAULT_DYNAMIC_CONFIG),
  ttl: 20,
  loop_wait: 4,
  retry_timeout: 8,
  maximum_lag_on_failover: 5000,
  postgresql: { use_pg_rewind: true, use_slots: true, parameters: { max_connections: 300 } },
};

test('defaults are Patroni 3.0.2 defaults', () => {
  assert.equal(DEFAULT_DYNAMIC_CONFIG.ttl, 30);
  assert.equal(DEFAULT_DYNAMIC_CONFIG.loop_wait, 10);
  assert.equal(DEFAULT_DYNAMIC_CONFIG.retry_timeout, 10);
  assert.equal(DEFAULT_DYNAMIC_CONFIG.maximum_lag_on_failover, 1048576);
  assert.equal(DEFAULT_DYNAMIC_CONFIG.primary_start_timeout, 300);
  assert.equal(DEFAULT_DYNAMIC_CONFIG.primary_stop_timeout, 0);
  assert.equal(DEFAULT_DYNAMIC_CONFIG.postgresql.use_slots, true);
  assert.equal(DEFAULT_DYNAMIC_CONFIG.postgresql.use_pg_rewind, false);
  assert.ok(Object.isFrozen(DEFAULT_DYNAMIC_CONFIG.postgresql.parameters));
});

test('without a stored config key, the bootstrap settings are in effect', () => {
  assert.deepEqual(effectiveDynamicConfig(null, BOOTSTRAP), BOOTSTRAP);
});

test('a stored config key applies over the defaults, not over bootstrap', () => {
  const c = effectiveDynamicConfig({ ttl: 40, postgresql: { parameters: { work_mem: '8MB' } } }, BOOTSTRAP);
  assert.equal(c.ttl, 40);
  assert.equal(c.loop_wait, 10);
  assert.equal(c.maximum_lag_on_failover, 1048576);
  assert.equal(c.postgresql.use_pg_rewind, false);
  assert.deepEqual(c.postgresql.parameters, { work_mem: '8MB' });
});

test('an invalid stored value is reported and replaced by the bootstrap value, without throwing', () => {
  const r = resolveDynamicConfig(
    { ttl: 30, maximum_lag_on_failover: 'lots', postgresql: { use_slots: 'perhaps' } },
    BOOTSTRAP,
  );
  assert.equal(r.config.maximum_lag_on_failover, 5000);
  assert.equal(r.config.postgresql.use_slots, true);
  assert.deepEqual(r.problems, [
    { path: 'config.maximum_lag_on_failover', message: 'expected an integer, got "lots"' },
    { path: 'config.postgresql.use_slots', message: 'expected true or false, got "perhaps"' },
  ]);
});

test('a stored config breaking the timing rule is reported and the bootstrap timing is used', () => {
  const r = resolveDynamicConfig({ ttl: 15, loop_wait: 10, retry_timeout: 10 }, BOOTSTRAP);
  assert.deepEqual([r.config.ttl, r.config.loop_wait, r.config.retry_timeout], [20, 4, 8]);
  assert.deepEqual(r.problems, [
    { path: 'config.ttl', message: 'loop_wait + 2*retry_timeout must not exceed ttl, got 10 + 2*10 = 30 > 15' },
  ]);
});

test('stored numbers written as strings are accepted, as Patroni does', () => {
  const r = resolveDynamicConfig({ ttl: '40', loop_wait: '5', pause: 'true' }, BOOTSTRAP);
  assert.deepEqual(r.problems, []);
  assert.equal(r.config.ttl, 40);
  assert.equal(r.config.loop_wait, 5);
  assert.equal(r.config.pause, true);
});

test('an invalid stored PostgreSQL parameter is reported and left out', () => {
  const r = resolveDynamicConfig({ postgresql: { parameters: { max_connections: 5, work_mem: '4MB' } } }, BOOTSTRAP);
  assert.deepEqual(r.config.postgresql.parameters, { work_mem: '4MB' });
  assert.deepEqual(r.problems, [
    { path: 'config.postgresql.parameters.max_connections', message: 'must be at least 25, got 5' },
  ]);
});

test('validateDynamicConfig reports problems with paths relative to the config value', () => {
  const r = validateDynamicConfig({ ttl: 'x', loop_wait: 0, synchronous_mode: true });
  assert.deepEqual(r.problems, [
    { path: 'ttl', message: 'expected an integer, got "x"' },
    { path: 'loop_wait', message: 'must be at least 1, got 0' },
  ]);
  assert.equal(r.config.ttl, 30);
  assert.equal(r.config.synchronous_mode, 'on');
  assert.deepEqual(r.warnings, []);
});

test('synchronous_mode reads Patroni booleans and quorum, and names what it refuses', () => {
  const mode = (value: unknown) => validateDynamicConfig({ synchronous_mode: value });
  assert.equal(mode(true).config.synchronous_mode, 'on');
  assert.equal(mode('off').config.synchronous_mode, 'off');
  assert.equal(mode('quorum').config.synchronous_mode, 'quorum');
  assert.deepEqual(mode('sometimes').problems, [
    { path: 'synchronous_mode', message: 'must be on, off, quorum, true or false, got "sometimes"' },
  ]);
  const json = dynamicConfigToJson(mode('quorum').config);
  assert.equal(json.synchronous_mode, 'quorum');
  assert.equal(dynamicConfigToJson(mode(true).config).synchronous_mode, true, 'Patroni 3 reads a boolean');
  assert.deepEqual(validateDynamicConfig({ synchronous_node_count: 0 }).problems, [
    { path: 'synchronous_node_count', message: 'must be at least 1, got 0' },
  ]);
});

test('validateDynamicConfig refuses a value that is not a map', () => {
  assert.deepEqual(validateDynamicConfig([1, 2]).problems, [{ path: '', message: 'expected a map, got a list' }]);
});

test('dynamicConfigToJson writes Patroni field names and reads back to the same settings', () => {
  const json = dynamicConfigToJson({
    ...BOOTSTRAP,
    postgresql: { ...BOOTSTRAP.postgresql, pg_hba: ['host all all 0.0.0.0/0 md5'] },
  });
  assert.deepEqual(Object.keys(json).sort(), [
    'check_timeline',
    'failsafe_mode',
    'loop_wait',
    'maximum_lag_on_failover',
    'maximum_lag_on_syncnode',
    'postgresql',
    'primary_start_timeout',
    'primary_stop_timeout',
    'retry_timeout',
    'synchronous_mode',
    'synchronous_mode_strict',
    'synchronous_node_count',
    'ttl',
  ]);
  assert.deepEqual(json.postgresql, {
    use_pg_rewind: true,
    use_slots: true,
    parameters: { max_connections: 300 },
    pg_hba: ['host all all 0.0.0.0/0 md5'],
  });
  const back = validateDynamicConfig(JSON.parse(JSON.stringify(json)));
  assert.deepEqual(back.problems, []);
  assert.deepEqual(back.config, {
    ...BOOTSTRAP,
    postgresql: { ...BOOTSTRAP.postgresql, pg_hba: ['host all all 0.0.0.0/0 md5'] },
  });
});

test('dynamicConfigToJson writes pause only while paused', () => {
  assert.equal(dynamicConfigToJson({ ...BOOTSTRAP, pause: true }).pause, true);
  assert.equal('pause' in dynamicConfigToJson(BOOTSTRAP), false);
});

test('citus: pausing on a worker failure is on by default after 2 failed probes, with a deadline from ttl', () => {
  assert.deepEqual(DEFAULT_DYNAMIC_CONFIG.citus, {
    pause_on_worker_failure: true,
    failure_probe_count: 2,
    failure_pause_timeout: null,
    rebalance_on_join: false,
    shard_transfer_mode: 'auto',
  });
  const stored = {
    citus: {
      pause_on_worker_failure: 'off',
      failure_probe_count: 3,
      failure_pause_timeout: '25',
      rebalance_on_join: 'on',
      shard_transfer_mode: 'block_writes',
    },
  };
  assert.deepEqual(effectiveDynamicConfig(stored, BOOTSTRAP).citus, {
    pause_on_worker_failure: false,
    failure_probe_count: 3,
    failure_pause_timeout: 25,
    rebalance_on_join: true,
    shard_transfer_mode: 'block_writes',
  });
});

test('citus: bad values are reported naming the field and replaced by the bootstrap value', () => {
  const { config, problems } = resolveDynamicConfig(
    {
      citus: {
        failure_probe_count: 0,
        failure_pause_timeout: 'soon',
        pause_on_worker_failure: 3,
        rebalance_on_join: 'sometimes',
        shard_transfer_mode: 'logical',
      },
    },
    BOOTSTRAP,
  );
  assert.deepEqual(problems.map((p) => p.path).sort(), [
    'config.citus.failure_pause_timeout',
    'config.citus.failure_probe_count',
    'config.citus.pause_on_worker_failure',
    'config.citus.rebalance_on_join',
    'config.citus.shard_transfer_mode',
  ]);
  assert.match(
    problems.find((p) => p.path.endsWith('shard_transfer_mode'))!.message,
    /auto, force_logical, block_writes/,
  );
  assert.deepEqual(config.citus, BOOTSTRAP.citus);
});

test('citus settings are written to the config key only when they differ from the defaults', () => {
  assert.equal(dynamicConfigToJson(DEFAULT_DYNAMIC_CONFIG).citus, undefined);
  const json = dynamicConfigToJson({
    ...structuredClone(DEFAULT_DYNAMIC_CONFIG),
    citus: { ...DEFAULT_DYNAMIC_CONFIG.citus, failure_probe_count: 4 },
  });
  assert.deepEqual(json.citus, { failure_probe_count: 4 });
});
