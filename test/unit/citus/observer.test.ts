// The new-leader-to-metadata timer: started by a leader key naming someone new, stopped by the
// group's repoint; the leaders already there at the start and a re-put of the same name time nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaderToMetadata, NO_OBSERVER } from '../../../src/citus/observer.ts';
import type { ClusterView, DcsEvent } from '../../../src/dcs/types.ts';

const leaderPut = (group: number, name: string): DcsEvent => ({
  type: 'put',
  group,
  name: 'leader',
  value: name,
  modRevision: '1',
});

test('times a new leader from its key to the repoint, once', () => {
  let now = 1000;
  const seen: Array<[number, number]> = [];
  const lag = new LeaderToMetadata({ ...NO_OBSERVER, leaderToMetadata: (g, ms) => seen.push([g, ms]) }, () => now);
  lag.seed({ revision: '1', groups: [{ group: 1, leader: { name: 'a' } }] } as unknown as ClusterView);
  lag.onEvents([leaderPut(1, 'a'), leaderPut(0, 'c')]);
  lag.repointed(1);
  assert.deepEqual(seen, [], 'the seeded leader and the coordinator time nothing');

  lag.onEvents([{ type: 'delete', group: 1, name: 'leader', value: null, modRevision: '2' }, leaderPut(1, 'b')]);
  now = 1400;
  lag.onEvents([leaderPut(2, 'x'), leaderPut(1, 'b')]);
  now = 1750;
  lag.repointed(1);
  lag.repointed(1);
  assert.deepEqual(seen, [[1, 750]]);
  now = 1800;
  lag.repointed(2);
  assert.deepEqual(seen, [
    [1, 750],
    [2, 400],
  ]);
});
