// applyReloadedConfig and the pgbouncer section: pool settings apply to the running agent (its
// PgBouncer gets SIGHUP), the binary, the directory and the section itself need an agent restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyReloadedConfig } from '../../../src/agent/reload.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { minimalConfig, withSetting, writeConfig } from '../config/helpers.ts';

function pooled(pgbouncer: Record<string, unknown> | undefined): Record<string, unknown> {
  let raw = withSetting(minimalConfig(), 'citus', { group: 1, database: 'citus', pooler: '10.0.0.5:6432' });
  raw = withSetting(raw, 'postgresql.authentication.superuser', { username: 'postgres', password: 'secret' });
  return withSetting(raw, 'pgbouncer', pgbouncer);
}

const load = (raw: Record<string, unknown>) => loadConfig(writeConfig(raw), {}).config;

test('pool mode, sizes and TLS files of pgbouncer are applied in place', () => {
  const live = load(pooled({ dir: '/p' }));
  const section = live.pgbouncer;
  const tls = { cert_file: '/c', key_file: '/k' };
  const fresh = load(pooled({ dir: '/p', pool_mode: 'transaction', default_pool_size: 9, max_client_conn: 90, tls }));
  const result = applyReloadedConfig(live, fresh);
  assert.deepEqual(result.applied.sort(), [
    'pgbouncer.default_pool_size',
    'pgbouncer.max_client_conn',
    'pgbouncer.pool_mode',
    'pgbouncer.tls',
  ]);
  assert.deepEqual(result.needsAgentRestart, []);
  assert.equal(live.pgbouncer, section, 'the same object: the supervisor reads it at every reload');
  assert.deepEqual(live.pgbouncer, fresh.pgbouncer);
  const back = applyReloadedConfig(live, load(pooled({ dir: '/p' })));
  assert.ok(back.applied.includes('pgbouncer.tls'));
  assert.equal(live.pgbouncer?.tls, undefined);
});

test('a changed pgbouncer bin or dir, or the section added or removed, needs an agent restart', () => {
  const live = load(pooled({ dir: '/p' }));
  const moved = applyReloadedConfig(live, load(pooled({ dir: '/q', bin: '/opt/pgbouncer' })));
  assert.deepEqual(moved.needsAgentRestart.sort(), ['pgbouncer.bin', 'pgbouncer.dir']);
  assert.equal(live.pgbouncer?.dir, '/p');
  assert.deepEqual(applyReloadedConfig(live, load(pooled(undefined))).needsAgentRestart, ['pgbouncer']);
  const without = load(pooled(undefined));
  assert.deepEqual(applyReloadedConfig(without, load(pooled({}))).needsAgentRestart, ['pgbouncer']);
  assert.equal(without.pgbouncer, null);
});
