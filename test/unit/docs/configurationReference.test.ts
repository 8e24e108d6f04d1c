// docs/configuration.md is generated from the configuration schema (scripts/configReference.ts):
// the checked-in file must be what `npm run docs` writes today, so the two cannot drift.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configurationReference } from '../../../scripts/configReference.ts';

test('docs/configuration.md is what npm run docs generates from src/config', () => {
  const checkedIn = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
  assert.ok(
    checkedIn === configurationReference(),
    'docs/configuration.md differs from the configuration schema: run `npm run docs` and commit the result',
  );
});

test('every implemented key is explained and its default is the one validation fills in', () => {
  const text = configurationReference();
  assert.match(text, /^\| `loop_wait` \| integer >= 1 \| `10` \|/m);
  assert.match(text, /^\| `scope` \| string \| required \|/m);
  assert.match(text, /^\| `SHARDHERD_CITUS_GROUP` \| `citus\.group` \|$/m);
});
