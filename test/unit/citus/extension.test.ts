// citusSettings: the server settings of a Citus group member, with and without real Citus.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { citusSettings } from '../../../src/citus/extension.ts';

const base = { localHostname: 'node1.example', maxConnections: 100 };

test('with Citus installed, citus comes first in shared_preload_libraries and appears once', () => {
  const s = citusSettings({
    ...base,
    citusAvailable: true,
    sharedPreloadLibraries: 'pg_stat_statements, citus,auto_explain',
  });
  assert.equal(s.shared_preload_libraries, 'citus,pg_stat_statements,auto_explain');
});

test('without Citus, citus is kept out of shared_preload_libraries so the server can start', () => {
  const s = citusSettings({ ...base, citusAvailable: false, sharedPreloadLibraries: 'citus,pg_stat_statements' });
  assert.equal(s.shared_preload_libraries, 'pg_stat_statements');
  assert.equal(citusSettings({ ...base, citusAvailable: false }).shared_preload_libraries, '');
});

test('wal_level is logical and citus.local_hostname is set, with or without Citus', () => {
  for (const citusAvailable of [true, false]) {
    const s = citusSettings({ ...base, citusAvailable });
    assert.equal(s.wal_level, 'logical');
    assert.equal(s['citus.local_hostname'], 'node1.example');
  }
});

test('max_prepared_transactions is raised to twice max_connections, never lowered', () => {
  assert.equal(citusSettings({ ...base, citusAvailable: true }).max_prepared_transactions, '200');
  assert.equal(
    citusSettings({ ...base, citusAvailable: true, maxPreparedTransactions: 50 }).max_prepared_transactions,
    '200',
  );
  assert.equal(
    citusSettings({ ...base, citusAvailable: true, maxPreparedTransactions: 500 }).max_prepared_transactions,
    '500',
  );
});
