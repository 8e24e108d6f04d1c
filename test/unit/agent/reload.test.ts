// applyReloadedConfig: what a reload takes over into the running configuration, and what it only
// reports as needing an agent restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyReloadedConfig } from '../../../src/agent/reload.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { minimalConfig, withSetting, writeConfig } from '../config/helpers.ts';

function load(raw: Record<string, unknown>) {
  return loadConfig(writeConfig(raw), {}).config;
}

test('tags, parameters, pg_hba, callbacks and the log level are applied in place', () => {
  const base = minimalConfig();
  const live = load(base);
  const tagsObject = live.tags;
  const postgresql = live.postgresql;
  let changed = withSetting(base, 'postgresql.parameters', { work_mem: '7MB' });
  changed = withSetting(changed, 'postgresql.pg_hba', ['local all all trust']);
  changed = withSetting(changed, 'tags', { nofailover: true });
  changed = withSetting(changed, 'log', { level: 'WARNING' });
  changed = withSetting(changed, 'postgresql.callbacks', { on_role_change: '/usr/local/bin/vip.sh up' });
  const result = applyReloadedConfig(live, load(changed));
  assert.deepEqual(result.applied.sort(), [
    'log.level',
    'postgresql.callbacks',
    'postgresql.parameters',
    'postgresql.pg_hba',
    'tags',
  ]);
  assert.deepEqual(result.needsAgentRestart, []);
  assert.equal(live.tags, tagsObject, 'the same tags object (the loop and the API hold it)');
  assert.equal(live.postgresql, postgresql, 'the same postgresql object (the renderer holds it)');
  assert.equal(live.tags.nofailover, true);
  assert.equal(live.postgresql.parameters.work_mem, '7MB');
  assert.deepEqual(live.postgresql.pg_hba, ['local all all trust']);
  assert.deepEqual(live.postgresql.callbacks, { on_role_change: ['/usr/local/bin/vip.sh', 'up'] });
  assert.equal(live.log.level, 'warn');
});

test('a changed name or data_dir is reported as needing an agent restart and left as it was', () => {
  const base = minimalConfig();
  const live = load(base);
  const name = live.name;
  const dataDir = live.postgresql.data_dir;
  let changed = withSetting(base, 'name', 'other');
  changed = withSetting(changed, 'postgresql.data_dir', '/elsewhere');
  const result = applyReloadedConfig(live, load(changed));
  assert.deepEqual(result.applied, []);
  assert.deepEqual(result.needsAgentRestart.sort(), ['name', 'postgresql.data_dir']);
  assert.equal(live.name, name);
  assert.equal(live.postgresql.data_dir, dataDir);
});

test('an unchanged file changes nothing', () => {
  const base = minimalConfig();
  const live = load(base);
  assert.deepEqual(applyReloadedConfig(live, load(base)), { applied: [], needsAgentRestart: [] });
});

test('citus.pooler is applied in place (added, changed, removed); other citus changes need an agent restart', () => {
  const base = withSetting(minimalConfig(), 'citus', { group: 1, database: 'citus' });
  const live = load(base);
  const withPooler = withSetting(base, 'citus', { group: 1, database: 'citus', pooler: '10.0.0.5:6432' });
  assert.deepEqual(applyReloadedConfig(live, load(withPooler)), { applied: ['citus.pooler'], needsAgentRestart: [] });
  assert.deepEqual(live.citus?.pooler, { host: '10.0.0.5', port: 6432 });
  assert.deepEqual(applyReloadedConfig(live, load(base)), { applied: ['citus.pooler'], needsAgentRestart: [] });
  assert.equal(live.citus?.pooler, undefined);
  const otherGroup = withSetting(base, 'citus', { group: 2, database: 'citus' });
  assert.deepEqual(applyReloadedConfig(live, load(otherGroup)), { applied: [], needsAgentRestart: ['citus'] });
  assert.equal(live.citus?.group, 1);
});

test('a changed or removed superuser password applies in place; another superuser name needs a restart', () => {
  const SU = 'postgresql.authentication.superuser';
  const PASSWORD = 'postgresql.authentication.superuser.password';
  const base = withSetting(minimalConfig(), SU, { username: 'postgres', password: 'old' });
  const live = load(base);
  const superuser = live.postgresql.authentication.superuser;
  const changed = applyReloadedConfig(live, load(withSetting(base, PASSWORD, 'new')));
  assert.deepEqual(changed, { applied: [PASSWORD], needsAgentRestart: [] });
  assert.equal(live.postgresql.authentication.superuser, superuser, 'the same object (the node connects with it)');
  assert.equal(superuser.password, 'new');

  const removed = applyReloadedConfig(live, load(withSetting(base, SU, { username: 'postgres' })));
  assert.deepEqual(removed, { applied: [PASSWORD], needsAgentRestart: [] });
  assert.equal('password' in superuser, false);

  const renamed = applyReloadedConfig(live, load(withSetting(base, SU, { username: 'admin', password: 'old' })));
  assert.deepEqual(renamed, { applied: [PASSWORD], needsAgentRestart: ['postgresql.authentication'] });
  assert.equal(superuser.username, 'postgres');
});

test('restapi.authentication and allowlist apply in place; a new listen address needs a restart', () => {
  const base = minimalConfig();
  const live = load(base);
  const restapi = live.restapi;
  const auth = { username: 'admin', password: 's3cret' };
  const withAuth = withSetting(base, 'restapi.authentication', auth);
  assert.deepEqual(applyReloadedConfig(live, load(withAuth)), {
    applied: ['restapi.authentication'],
    needsAgentRestart: [],
  });
  assert.equal(live.restapi, restapi, 'the same restapi object (the server reads it at each request)');
  assert.deepEqual(live.restapi.authentication, auth);
  assert.deepEqual(applyReloadedConfig(live, load(base)), {
    applied: ['restapi.authentication'],
    needsAgentRestart: [],
  });
  assert.equal(live.restapi.authentication, undefined);
  const listed = withSetting(base, 'restapi.allowlist', ['10.0.0.0/8']);
  assert.deepEqual(applyReloadedConfig(live, load(listed)), { applied: ['restapi.allowlist'], needsAgentRestart: [] });
  assert.deepEqual(live.restapi.allowlist, ['10.0.0.0/8']);
  const moved = withSetting(base, 'restapi.listen', '127.0.0.1:9999');
  assert.deepEqual(applyReloadedConfig(live, load(moved)).needsAgentRestart, ['restapi']);
});
