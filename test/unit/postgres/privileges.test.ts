// The agent refuses root before doing anything else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresError } from '../../../src/errors.ts';
import { assertNotRoot } from '../../../src/postgres/privileges.ts';

test('uid 0 is refused with a PostgresError that says why', () => {
  assert.throws(
    () => assertNotRoot(0),
    (err) => err instanceof PostgresError && /refusing to run as root/.test(err.message),
  );
});

test('an ordinary uid is accepted', () => {
  assert.doesNotThrow(() => assertNotRoot(101));
});
