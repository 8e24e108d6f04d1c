// loadCtlConfig: the read-only commands load a patronictl-sized file (scope, namespace, etcd3,
// citus) or a full member config, checked by the agent's own validators.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadCtlConfig } from '../../../src/config/ctlConfig.ts';
import { ConfigError } from '../../../src/errors.ts';
import { minimalConfig, writeFiles } from './helpers.ts';

function file(content: string | object): string {
  return path.join(writeFiles({ 'ctl.yml': content }), 'ctl.yml');
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  assert.fail('expected a ConfigError');
}

test('scope, namespace, etcd3 and citus are enough, as for patronictl', () => {
  const config = loadCtlConfig(
    file('scope: demo\nnamespace: /service/\netcd3:\n  hosts: 127.0.0.1:2379\ncitus:\n  group: 0\n  database: citus\n'),
    {},
  );
  assert.deepEqual(config, {
    scope: 'demo',
    namespace: 'service',
    etcd3: { hosts: ['127.0.0.1:2379'], protocol: 'http' },
    citus: { group: 0, database: 'citus' },
    retryTimeout: 10,
  });
});

test('a full member configuration loads too, with its bootstrap.dcs retry_timeout', () => {
  const config = loadCtlConfig(file({ ...minimalConfig(), bootstrap: { dcs: { retry_timeout: 3 } } }), {});
  assert.equal(config.scope, 'demo');
  assert.equal(config.citus, null);
  assert.equal(config.retryTimeout, 3);
});

test('without scope the file still loads and leaves the cluster name to the command line', () => {
  assert.equal(loadCtlConfig(file('etcd3:\n  hosts: [127.0.0.1:2379]\n'), {}).scope, null);
});

test('environment overrides apply, and a bad value blames the variable', () => {
  const f = file('scope: demo\netcd3:\n  hosts: 127.0.0.1:2379\n');
  assert.deepEqual(loadCtlConfig(f, { SHARDHERD_ETCD3_HOSTS: '10.0.0.1:2379,10.0.0.2:2379' }).etcd3.hosts, [
    '10.0.0.1:2379',
    '10.0.0.2:2379',
  ]);
  assert.deepEqual(
    problems(() => loadCtlConfig(f, { SHARDHERD_CITUS_GROUP: 'x', SHARDHERD_CITUS_DATABASE: 'citus' })),
    ['SHARDHERD_CITUS_GROUP: expected an integer, got "x" (sets citus.group)'],
  );
});

test('every problem of the fields read is reported at once', () => {
  const found = problems(() =>
    loadCtlConfig(file('scope: a/b\netcd3:\n  hosts: http://127.0.0.1:2379\ncitus:\n  group: -1\n'), {}),
  );
  assert.deepEqual(found, [
    'scope: must not contain "/", got "a/b"',
    'etcd3.hosts[0]: expected host:port without a URL scheme, got "http://127.0.0.1:2379"',
    'citus.group: must be at least 0, got -1',
    'citus.database: required (the database where the citus extension lives)',
  ]);
});

test('a missing etcd3 section and a missing file are problems', () => {
  assert.match(problems(() => loadCtlConfig(file('scope: demo\n'), {}))[0], /^etcd3: required/);
  assert.match(problems(() => loadCtlConfig('/nonexistent/ctl.yml', {}))[0], /cannot read: ENOENT/);
});

test('restapi.authentication is read for the operations, SHARDHERD_RESTAPI_* over it; half of it is refused', () => {
  const base = 'scope: demo\netcd3:\n  hosts: 127.0.0.1:2379\n';
  const withAuth = file(`${base}restapi:\n  authentication:\n    username: admin\n    password: s3cret\n`);
  assert.deepEqual(loadCtlConfig(withAuth, {}).restapiAuth, { username: 'admin', password: 's3cret' });
  assert.deepEqual(loadCtlConfig(withAuth, { SHARDHERD_RESTAPI_PASSWORD: 'other' }).restapiAuth, {
    username: 'admin',
    password: 'other',
  });
  assert.equal(loadCtlConfig(file(base), {}).restapiAuth, undefined);
  assert.deepEqual(
    problems(() => loadCtlConfig(file(`${base}restapi:\n  authentication:\n    username: admin\n`), {})),
    ['restapi.authentication.password: required'],
  );
});
