import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalTracker } from '../../../src/ha/localTracker.ts';
import type { Action } from '../../../src/ha/types.ts';

const clone: Action = { kind: 'clone', from: 'n2' };
const settle = () => new Promise((resolve) => setImmediate(resolve));

test('a long task shows while it runs, clears when done and reports success', async () => {
  const tracker = new LocalTracker();
  let finish!: () => void;
  const ended: (string | null)[] = [];
  tracker.runTask({ task: 'clone', since: 5 }, clone, new Promise((resolve) => (finish = resolve)), (f) =>
    ended.push(f),
  );
  assert.deepEqual(tracker.task, { task: 'clone', since: 5 });
  assert.throws(() => tracker.runTask({ task: 'rewind', since: 6 }, clone, Promise.resolve(), () => {}), /clone/);
  finish();
  await settle();
  assert.equal(tracker.task, null);
  assert.deepEqual(ended, [null]);
  assert.equal(tracker.takeTaskFailure(), null);
});

test('a long task that succeeded clears an earlier failed start and crash: the data directory is new', async () => {
  const tracker = new LocalTracker();
  tracker.startBegan('replica', 1);
  tracker.startSettled({ at: 2, message: 'startup process failed' });
  tracker.noteUnexpectedExit(3);
  tracker.runTask({ task: 'rewind', since: 4 }, { kind: 'rewind', from: 'n2' }, Promise.resolve(), () => {});
  await settle();
  assert.equal(tracker.startFailed, null);
  assert.equal(tracker.crashedSince, null);
  tracker.startBegan('replica', 5);
  tracker.startSettled({ at: 6, message: 'startup process failed' });
  tracker.runTask(
    { task: 'rewind', since: 7 },
    { kind: 'rewind', from: 'n2' },
    Promise.reject(new Error('x')),
    () => {},
  );
  await settle();
  assert.notEqual(tracker.startFailed, null, 'a failed task leaves the failed start for the next decision');
});

test('a failed long task is reported once, after the task cleared', async () => {
  const tracker = new LocalTracker();
  const ended: (string | null)[] = [];
  tracker.runTask({ task: 'clone', since: 5 }, clone, Promise.reject(new Error('no route')), (f) => {
    assert.equal(tracker.task, null);
    ended.push(f);
  });
  await settle();
  assert.deepEqual(ended, ['no route']);
  assert.deepEqual(tracker.takeTaskFailure(), { action: clone, message: 'no route' });
  assert.equal(tracker.takeTaskFailure(), null);
});

test('a start is pending until it settles; a failed one is remembered until PostgreSQL answers', () => {
  const tracker = new LocalTracker();
  tracker.startBegan('replica', 10);
  assert.equal(tracker.starting, true);
  tracker.startSettled({ at: 12, message: 'exited with 1' });
  assert.equal(tracker.starting, false);
  assert.deepEqual(tracker.startFailed, { as: 'replica', at: 12, message: 'exited with 1' });
  tracker.startBegan('replica', 20);
  assert.equal(tracker.startFailed, null, 'a new start forgets the failure');
  tracker.startSettled(null);
  tracker.seenAnswering();
  assert.equal(tracker.start, null);
});

test('a postmaster that runs but does not answer counts as starting in the role of the last start', () => {
  const tracker = new LocalTracker();
  tracker.startBegan('primary', 10);
  tracker.startSettled(null);
  tracker.seenAnswering();
  assert.deepEqual(tracker.seenNotAnswering(50), { as: 'primary', since: 50, settled: true });
  assert.deepEqual(tracker.seenNotAnswering(80), { as: 'primary', since: 50, settled: true }, 'keeps the first time');
});

test('a crash episode keeps its first time until PostgreSQL answers again', () => {
  const tracker = new LocalTracker();
  tracker.noteUnexpectedExit(100);
  tracker.noteUnexpectedExit(200);
  assert.equal(tracker.crashedSince, 100);
  tracker.seenAnswering();
  assert.equal(tracker.crashedSince, null);
});

test('a lock taken in the background is handed to the loop once', () => {
  const tracker = new LocalTracker();
  assert.equal(tracker.takeAcquiredLock(), null);
  tracker.noteLockAcquired(777);
  assert.equal(tracker.takeAcquiredLock(), 777);
  assert.equal(tracker.takeAcquiredLock(), null);
});
