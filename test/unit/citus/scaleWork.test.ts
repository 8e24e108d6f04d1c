// ScaleWork's triggers: which reconciles are followed by a pass (the rest stay cheap).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScaleWork, type ScaleSettings } from '../../../src/citus/scale.ts';
import type { DcsEvent } from '../../../src/dcs/types.ts';
import { silentLogger } from '../../../src/log.ts';

const event = (name: string): DcsEvent => ({ type: 'put', group: 2, name, value: '{}', modRevision: '9' });

test('a pass is due first, after a citus key event, a nudge or new settings; not after member writes', async () => {
  let settings: ScaleSettings = { rebalanceOnJoin: false, transferMode: 'auto' };
  const work = new ScaleWork({
    connect: () => Promise.reject(new Error('no coordinator in this test')),
    logger: silentLogger,
    // No view yet: a pass has nothing to do and reads nothing.
    view: () => null,
    pausedGroups: () => new Set(),
    settings: () => settings,
    writeMark: () => Promise.resolve(true),
    rowsChanged: () => undefined,
  });
  assert.equal(work.due(), true, 'the first pass');
  assert.equal(await work.pass(), false);
  assert.equal(work.due(), false);
  work.noteEvents([event('members/w2a'), event('leader')]);
  assert.equal(work.due(), false, 'member and leader keys alone');
  work.noteEvents([event('members/w2a'), event('citus')]);
  assert.equal(work.due(), true, "a group's citus key");
  await work.pass();
  work.nudge();
  assert.equal(work.due(), true, 'pg_dist_node changed');
  await work.pass();
  settings = { ...settings, rebalanceOnJoin: true };
  assert.equal(work.due(), true, 'rebalance_on_join turned on');
  await work.pass();
  assert.equal(work.due(), false);
});
