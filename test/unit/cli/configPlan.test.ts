// What edit-config plans for a group: --apply merged before -s/-p, the diff of the YAML it shows,
// the problems as one line, the restart notes; and the YAML as patronictl's show-config prints it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSetPair } from '../../../src/api/configEdit.ts';
import { indexSettings } from '../../../src/api/pgSettings.ts';
import { editConfig, planGroup, problemsLine, restartLines, warningLines } from '../../../src/cli/configPlan.ts';
import { configYaml } from '../../../src/cli/configYaml.ts';
import type { JsonObject } from '../../../src/config/types.ts';
import { PG_SETTING_ROWS } from '../api/pgSettingsFixture.ts';

const STORED: JsonObject = {
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  postgresql: { use_slots: true, parameters: { max_connections: 100, work_mem: '4MB' } },
};
const SETTINGS = indexSettings(PG_SETTING_ROWS);

test('editConfig: --apply is merged first, then -s and -p in order, as patronictl does', () => {
  const edits = {
    apply: { loop_wait: 5, postgresql: { parameters: { work_mem: '16MB' } } },
    sets: [parseSetPair('loop_wait=7', '-s'), parseSetPair('work_mem=8MB', '-p')],
  };
  assert.deepEqual(editConfig(STORED, edits), {
    ttl: 30,
    loop_wait: 7,
    retry_timeout: 10,
    postgresql: { use_slots: true, parameters: { max_connections: 100, work_mem: '8MB' } },
  });
});

test('configYaml: keys sorted, block style, lists not indented, YAML 1.1 words quoted', () => {
  assert.equal(
    configYaml({ ttl: 30, postgresql: { pg_hba: ['local all all trust'], parameters: { a: 'on', b: '64MB' } }, c: {} }),
    [
      'c: {}',
      'postgresql:',
      '  parameters:',
      "    a: 'on'",
      '    b: 64MB',
      '  pg_hba:',
      '  - local all all trust',
      'ttl: 30',
      '',
    ].join('\n'),
  );
});

test('planGroup: the diff of the YAML, no problems, the postmaster parameter pending a restart', () => {
  const plan = planGroup(
    1,
    { value: STORED, modRevision: '5' },
    { apply: null, sets: [parseSetPair('max_connections=200', '-p')] },
    SETTINGS,
  );
  assert.deepEqual(plan.diff, [
    '--- group 1 config',
    '+++ group 1 config (edited)',
    '@@ -1,7 +1,7 @@',
    ' loop_wait: 10',
    ' postgresql:',
    '   parameters:',
    '-    max_connections: 100',
    '+    max_connections: 200',
    '     work_mem: 4MB',
    '   use_slots: true',
    ' retry_timeout: 10',
  ]);
  assert.equal(problemsLine([plan]), null);
  assert.deepEqual(restartLines([plan]), [
    'Pending restart in group 1: max_connections (context postmaster) takes effect when PostgreSQL restarts: ' +
      'shardherd restart --group 1 --pending',
  ]);
});

test('planGroup: nothing changes, nothing is checked', () => {
  const plan = planGroup(
    null,
    { value: STORED, modRevision: '5' },
    { apply: null, sets: [parseSetPair('ttl=30', '-s')] },
    null,
  );
  assert.deepEqual([plan.diff, plan.check], [[], { problems: [], warnings: [], restart: [] }]);
});

test('problems and warnings of several groups name their group', () => {
  const bad = { apply: null, sets: [parseSetPair('work_mem=banana', '-p'), parseSetPair('slots={}', '-s')] };
  const plans = [0, 1].map((g) => planGroup(g, { value: STORED, modRevision: '5' }, bad, SETTINGS));
  const reason = 'expected an integer (in kB) or an integer with a unit: B, kB, MB, GB, TB, got "banana"';
  assert.equal(
    problemsLine(plans),
    `group 0: postgresql.parameters.work_mem: ${reason}; group 1: postgresql.parameters.work_mem: ${reason}`,
  );
  assert.deepEqual(warningLines(plans.slice(0, 1)), [
    'warning: slots: not implemented yet by Shardherd; ignored (permanent replication slots)',
  ]);
});
