// Which pending settings make a member report pending_restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pendingRestartSettings, RECOVERY_ONLY_SETTINGS } from '../../../src/postgres/pendingRestart.ts';

test('a promoted primary reports no recovery-only setting (recovery_target_timeline) as pending a restart', () => {
  assert.deepEqual(pendingRestartSettings(['recovery_target_timeline'], false), []);
  for (const name of RECOVERY_ONLY_SETTINGS) assert.deepEqual(pendingRestartSettings([name], false), [], name);
});

test('a replica still reports a changed recovery setting as pending a restart', () => {
  assert.deepEqual(pendingRestartSettings(['recovery_target_timeline'], true), ['recovery_target_timeline']);
});

test('other settings are pending on a primary and on a replica', () => {
  assert.deepEqual(pendingRestartSettings(['shared_buffers', 'recovery_target_timeline'], false), ['shared_buffers']);
  assert.deepEqual(pendingRestartSettings(['max_connections'], true), ['max_connections']);
});
