import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRoutine, mergeHistory, ownLock } from '../../../src/ha/facts.ts';
import type { Action, DcsHealth, LockState } from '../../../src/ha/types.ts';
import { SELF, view } from './fixtures.ts';

const held: LockState = { kind: 'held', confirmedAt: 1000 };
const notHeld: LockState = { kind: 'notHeld' };
const ok: DcsHealth = { kind: 'ok' };
const down: DcsHealth = { kind: 'unreachable', since: 900, error: 'timeout' };

test('ownLock: what the cycle may count on, over every combination', () => {
  const locks: LockState[] = [held, notHeld];
  const healths: DcsHealth[] = [ok, down];
  for (const lock of locks) {
    for (const dcs of healths) {
      for (const leader of [SELF, 'n2', null]) {
        const got = ownLock(lock, dcs, view({ leader }), SELF);
        const label: string = `${lock.kind} ${dcs.kind} leader=${leader}`;
        // Never more than recorded: the view alone cannot make the lock ours.
        if (lock.kind === 'notHeld') assert.deepEqual(got, notHeld, label);
        // Read this cycle and naming someone else or nobody: not ours.
        else if (dcs.kind === 'ok' && leader !== SELF) assert.deepEqual(got, notHeld, label);
        // etcd away: the record stands (self-fencing counts from its confirmation time).
        else assert.deepEqual(got, held, label);
      }
    }
  }
});

test('isRoutine: lock refresh, member write, waiting and following change nothing', () => {
  const a = (kind: Action['kind']): Action => ({ kind }) as Action;
  assert.equal(isRoutine([a('updateLock'), a('follow'), a('wait'), a('touchMember')]), true);
  assert.equal(isRoutine([]), true);
  for (const kind of ['promote', 'demote', 'startPostgres', 'restart', 'acquireLock', 'writeHistory'] as const) {
    assert.equal(isRoutine([a('updateLock'), a(kind)]), false, kind);
  }
});

test('mergeHistory adds a line, replacing one of the same timeline, in timeline order', () => {
  const a: [number, number, string] = [1, 100, 'first'];
  const b: [number, number, string] = [2, 200, 'second'];
  assert.deepEqual(mergeHistory([b], a), [a, b]);
  assert.deepEqual(mergeHistory([a, b], [2, 250, 'retried']), [a, [2, 250, 'retried']]);
});
