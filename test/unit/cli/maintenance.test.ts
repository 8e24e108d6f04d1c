// The pure parts of pause/resume (the config key with and without maintenance mode, members that
// do not show it yet) and of remove (which keys a group holds, when removing it is refused).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPaused, membersBehind, withPause } from '../../../src/cli/pause.ts';
import { groupKeys, removeRefusal } from '../../../src/cli/remove.ts';
import type { ClusterView, GroupView, Member } from '../../../src/dcs/types.ts';
import { emptyGroup } from '../../../src/dcs/view.ts';

function member(name: string, extra: Partial<Member['data']> = {}, lease = '7587'): Member {
  return {
    name,
    lease,
    modRevision: '10',
    data: { conn_url: '', api_url: '', state: 'running', role: 'replica', version: '0.1.0', ...extra },
  };
}

function group(n: number, fields: Partial<GroupView> = {}): GroupView {
  return { ...emptyGroup(n), ...fields };
}

test('withPause sets pause: true, and resuming removes the key as patronictl does', () => {
  assert.deepEqual(withPause({ ttl: 30 }, true), { ttl: 30, pause: true });
  assert.deepEqual(withPause({ ttl: 30, pause: true }, false), { ttl: 30 });
  assert.equal(isPaused({ pause: true }), true);
  assert.equal(isPaused({ pause: 'on' }), true);
  assert.equal(isPaused({ ttl: 30 }), false);
});

test('membersBehind: the awaited members whose key does not show the state yet', () => {
  const view = group(1, { members: [member('a', { pause: true }), member('b'), member('c')] });
  assert.deepEqual(membersBehind(view, ['a', 'b'], true), ['b']);
  assert.deepEqual(membersBehind(view, ['a', 'b', 'c'], false), ['a']);
});

const CONFIG = { value: { ttl: 30 }, modRevision: '3' };

test('groupKeys lists the keys a group holds', () => {
  assert.deepEqual(groupKeys(group(2)), []);
  assert.deepEqual(groupKeys(group(2, { config: CONFIG, initialize: '1', members: [member('w')] })), [
    'initialize',
    'config',
    'members/w',
  ]);
});

test('removeRefusal: no keys, live member keys (unless --force), the coordinator while workers exist', () => {
  const worker = group(2, { config: CONFIG, members: [member('w1'), member('w2', {}, '0')] });
  const cluster: ClusterView = { revision: '9', groups: [group(0, { config: CONFIG }), worker] };
  assert.equal(removeRefusal(cluster, 5, false), 'group 5 has no keys in etcd: nothing to remove');
  assert.equal(
    removeRefusal(cluster, 2, false),
    'group 2 still has live member keys (w1): their agents are running; stop them first, or pass --force',
  );
  assert.equal(removeRefusal(cluster, 2, true), null);
  assert.equal(removeRefusal(cluster, 0, true), 'group 0 is the coordinator of worker groups 2: remove those first');
  const alone: ClusterView = { revision: '9', groups: [group(0, { config: CONFIG }), group(3)] };
  assert.equal(removeRefusal(alone, 0, false), null);
});
