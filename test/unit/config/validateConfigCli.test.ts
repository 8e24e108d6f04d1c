import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { minimalConfig, withSetting, writeConfig } from './helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

/** Runs the real command line as a user would, with only the given environment overrides. */
function validate(file: string, extraEnv: Record<string, string> = {}) {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...extraEnv };
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'validate-config', file], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('validate-config exits 0 and says so for a valid Patroni citus configuration', () => {
  const r = validate('test/fixtures/patroni-citus.yml');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'test/fixtures/patroni-citus.yml: configuration is valid\n');
});

test('validate-config exits 1 and prints every problem on its own line', () => {
  const file = writeConfig(
    withSetting(withSetting(minimalConfig(), 'postgresql.listen', 'abc'), 'bootstrap.dcs', { ttl: 20 }),
  );
  const r = validate(file);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    [
      'error: bootstrap.dcs.ttl: loop_wait + 2*retry_timeout must not exceed ttl, got 10 + 2*10 = 30 > 20',
      'error: postgresql.listen: expected host:port, got "abc"',
      `${file}: 2 problems found`,
      '',
    ].join('\n'),
  );
});

test('validate-config prints warnings, also next to problems', () => {
  const file = writeConfig(withSetting(withSetting(minimalConfig(), 'watchdog', { mode: 'off' }), 'name', undefined));
  const r = validate(file);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'warning: watchdog: not implemented yet by Shardherd; ignored\n');
  assert.match(r.stderr, /^error: name: required$/m);
});

test('validate-config applies environment overrides and blames a bad variable', () => {
  const r = validate('test/fixtures/patroni-citus.yml', { SHARDHERD_CITUS_GROUP: 'x' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: SHARDHERD_CITUS_GROUP: expected an integer, got "x" \(sets citus\.group\)$/m);
});
