import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  fenceDeadline,
  type FenceInput,
  hurries,
  MIN_NAP_MS,
  nextNapMs,
  type NapInput,
} from '../../../src/ha/schedule.ts';
import type { Action, LocalState } from '../../../src/ha/types.ts';
import { watchdogDeadline } from '../../../src/ha/watchdog.ts';

const nap = (over: Partial<NapInput>): number =>
  nextNapMs({
    hurry: false,
    woken: false,
    elapsedMs: 0,
    loopWaitSeconds: 10,
    untilScheduledMs: null,
    recheckMs: null,
    ...over,
  });

describe('nextNapMs', () => {
  const cases: { name: string; input: Partial<NapInput>; ms: number }[] = [
    { name: 'a quiet cycle waits the rest of loop_wait', input: { elapsedMs: 1200 }, ms: 8800 },
    { name: 'a hurried cycle is followed at once', input: { hurry: true, elapsedMs: 10 }, ms: MIN_NAP_MS },
    { name: 'a wake-up during the cycle is followed at once', input: { woken: true }, ms: MIN_NAP_MS },
    { name: 'a cycle longer than loop_wait still naps a little', input: { elapsedMs: 30_000 }, ms: MIN_NAP_MS },
    { name: 'a scheduled restart due sooner shortens the nap', input: { untilScheduledMs: 2500 }, ms: 2500 },
    { name: 'a scheduled restart due later does not lengthen it', input: { untilScheduledMs: 60_000 }, ms: 10_000 },
    { name: 'a scheduled restart overdue still naps a little', input: { untilScheduledMs: -5 }, ms: MIN_NAP_MS },
    { name: 'a change under way is looked at again when asked', input: { recheckMs: 500 }, ms: 500 },
    { name: 'the sooner of a recheck and a restart wins', input: { recheckMs: 500, untilScheduledMs: 300 }, ms: 300 },
  ];
  for (const c of cases) test(c.name, () => assert.equal(nap(c.input), c.ms));

  test('never below MIN_NAP_MS nor above loop_wait, over many inputs', () => {
    for (let i = 0; i < 2000; i++) {
      const input: NapInput = {
        hurry: i % 7 === 0,
        woken: i % 11 === 0,
        elapsedMs: (i * 37) % 15_000,
        loopWaitSeconds: 1 + (i % 10),
        untilScheduledMs: i % 3 === 0 ? null : ((i * 101) % 20_000) - 1000,
        recheckMs: i % 5 === 0 ? (i * 13) % 2000 : null,
      };
      const ms = nextNapMs(input);
      assert.ok(ms >= MIN_NAP_MS, JSON.stringify(input));
      assert.ok(ms <= Math.max(MIN_NAP_MS, input.loopWaitSeconds * 1000), JSON.stringify(input));
      if (input.hurry || input.woken) assert.equal(ms, MIN_NAP_MS);
    }
  });
});

describe('hurries', () => {
  const act = (kind: Action['kind']): Action => ({ kind }) as Action;
  test('a cycle that changed what runs or who leads is followed at once', () => {
    for (const kind of ['acquireLock', 'releaseLock', 'promote', 'demote', 'startPostgres', 'clone'] as const) {
      assert.equal(hurries([act('updateLock'), act(kind), act('touchMember')], false), true, kind);
    }
  });
  test('a routine cycle is not', () => {
    assert.equal(hurries([act('updateLock'), act('follow'), act('touchMember')], false), false);
  });
  test('a failed list never hurries, so a failing step cannot spin', () => {
    assert.equal(hurries([act('acquireLock'), act('promote')], true), false);
  });
});

describe('fenceDeadline', () => {
  const primary: LocalState = { kind: 'runningPrimary', systemId: '1', timeline: 1, walLsn: 0 };
  const held = { kind: 'held', confirmedAt: 1_000_000 } as const;
  const base: FenceInput = { lock: held, local: primary, pid: 4242, paused: false, ttlSeconds: 30 };

  test('armed one step ahead of the lease while a lock-holding primary runs', () => {
    assert.equal(fenceDeadline(base), watchdogDeadline(held.confirmedAt, 30));
    assert.ok(fenceDeadline(base)! < held.confirmedAt + 30_000);
  });
  const disarmed: { name: string; over: Partial<FenceInput> }[] = [
    { name: 'the lock is not held', over: { lock: { kind: 'notHeld' } } },
    {
      name: 'PostgreSQL runs as a replica',
      over: {
        local: {
          kind: 'runningReplica',
          systemId: '1',
          timeline: 1,
          upstream: null,
          streaming: false,
          receivedLsn: null,
          replayedLsn: 0,
        },
      },
    },
    { name: 'no postmaster runs', over: { pid: null } },
    { name: 'maintenance mode is on', over: { paused: true } },
    { name: 'nothing was observed yet', over: { local: null } },
  ];
  for (const c of disarmed)
    test(`disarmed when ${c.name}`, () => assert.equal(fenceDeadline({ ...base, ...c.over }), null));
});
