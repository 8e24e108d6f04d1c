// Slot names from member names (Patroni's mapping) and the create/drop plan.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planSlotSync, slotNameFromMemberName } from '../../../src/postgres/slots.ts';

test('slot names are lowercase with dashes and dots as underscores', () => {
  assert.equal(slotNameFromMemberName('Node-1.dc2'), 'node_1_dc2');
});

test('other characters become u plus their code point, at least four digits', () => {
  assert.equal(slotNameFromMemberName('a b'), 'au0032b');
  assert.equal(slotNameFromMemberName('ä'), 'u0228');
  assert.equal(slotNameFromMemberName('x😀'), 'xu128512');
});

test('slot names are cut to 63 characters', () => {
  assert.equal(slotNameFromMemberName('n'.repeat(100)).length, 63);
});

test('the plan creates missing slots and drops slots of members that are gone', () => {
  assert.deepEqual(planSlotSync(['b', 'c'], ['a', 'b']), { create: ['c'], drop: ['a'] });
});

test('nothing to do when slots match', () => {
  assert.deepEqual(planSlotSync(['a'], ['a']), { create: [], drop: [] });
});
