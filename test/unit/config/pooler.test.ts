// citus.pooler: the pooler beside a node, validated like the other addresses and published as
// Patroni's proxy_url in the member key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/load.ts';
import { buildMemberData } from '../../../src/ha/memberData.ts';
import { ConfigError } from '../../../src/errors.ts';
import { minimalConfig, withSetting, writeConfig } from './helpers.ts';

function problemsOf(file: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig(file, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

const withPooler = (pooler: unknown) => withSetting(minimalConfig(), 'citus', { group: 1, database: 'citus', pooler });

test('citus.pooler host:port is read, and SHARDHERD_CITUS_POOLER overrides it', () => {
  assert.deepEqual(loadConfig(writeConfig(withPooler('10.0.0.5:6432')), {}).config.citus, {
    group: 1,
    database: 'citus',
    pooler: { host: '10.0.0.5', port: 6432 },
  });
  const { config } = loadConfig(writeConfig(withPooler('10.0.0.5:6432')), {
    SHARDHERD_CITUS_POOLER: 'pool.example:7432',
  });
  assert.deepEqual(config.citus?.pooler, { host: 'pool.example', port: 7432 });
});

test('a bad citus.pooler is refused naming the field', () => {
  assert.deepEqual(problemsOf(writeConfig(withPooler('abc'))), ['citus.pooler: expected host:port, got "abc"']);
  assert.deepEqual(problemsOf(writeConfig(withPooler(6432))), ['citus.pooler: expected host:port, got 6432']);
  assert.deepEqual(problemsOf(writeConfig(withPooler('0.0.0.0:6432'))), [
    'citus.pooler: must be an address other nodes can connect to, got 0.0.0.0:6432',
  ]);
});

test('the member key carries the pooler as proxy_url to the Citus database; without one, no proxy_url', () => {
  const local = { kind: 'noData' } as const;
  const extras = { version: '0.1.0', paused: false, pendingRestart: false };
  const withOne = loadConfig(writeConfig(withPooler('10.0.0.5:6432')), {}).config;
  assert.equal(buildMemberData(withOne, local, false, extras).proxy_url, 'postgres://10.0.0.5:6432/citus');
  const without = loadConfig(
    writeConfig(withSetting(minimalConfig(), 'citus', { group: 1, database: 'citus' })),
    {},
  ).config;
  assert.equal(buildMemberData(without, local, false, extras).proxy_url, undefined);
});
