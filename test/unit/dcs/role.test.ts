import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPrimaryRole, normalRole } from '../../../src/dcs/role.ts';

test("Patroni's older master is a primary; other roles keep their names", () => {
  assert.equal(normalRole('master'), 'primary');
  for (const role of ['primary', 'replica', 'standby_leader', 'uninitialized']) assert.equal(normalRole(role), role);
});

test('only primary and master name a primary', () => {
  assert.equal(isPrimaryRole('primary'), true);
  assert.equal(isPrimaryRole('master'), true);
  for (const role of ['replica', 'leader', '', undefined, null, 1])
    assert.equal(isPrimaryRole(role), false, String(role));
});
