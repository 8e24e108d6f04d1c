// `reinit --wait`: what it prints while members are cloned again, from their GET /patroni.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TargetMember } from '../../../src/cli/memberTargets.ts';
import { describeReinit, waitForReinit, type ReinitStatus } from '../../../src/cli/reinitWait.ts';

const target = (name: string): TargetMember =>
  ({ name, group: 1, role: 'replica', state: 'running', leader: false, apiUrl: 'http://x/patroni' }) as TargetMember;

const cloning = (percent: number | null, done: number): ReinitStatus => ({
  state: 'creating replica',
  clone_progress: { source: '10.0.0.1:5432', done_kb: done, total_kb: percent === null ? null : 102400, percent },
});

test('each member: what it waits for, a line per tenth of its clone, then done', async () => {
  const script: Record<string, Array<ReinitStatus | null>> = {
    a: [
      { state: 'creating replica' },
      cloning(3, 3072),
      cloning(5, 5120),
      cloning(12, 12288),
      cloning(100, 102400),
      { state: 'running' },
    ],
    b: [null, cloning(null, 50 * 1024), cloning(null, 150 * 1024), { state: 'start failed' }],
  };
  const out: string[] = [];
  let sleeps = 0;
  await waitForReinit([target('a'), target('b')], {
    status: (t) => {
      const next = script[t.name]!;
      return Promise.resolve(next.length > 0 ? next.shift()! : { state: 'running' });
    },
    write: (line) => out.push(line),
    sleep: () => {
      sleeps++;
      return Promise.resolve();
    },
  });
  assert.deepEqual(out, [
    'Waiting for reinitialize to complete on: a',
    'Waiting for reinitialize to complete on: b',
    '  a: creating replica',
    '  b: not answering',
    '  a: creating replica: 3% (3.0 of 100.0 MB from 10.0.0.1:5432)',
    '  b: creating replica: 50.0 MB from 10.0.0.1:5432',
    '  b: creating replica: 150.0 MB from 10.0.0.1:5432',
    '  a: creating replica: 12% (12.0 of 100.0 MB from 10.0.0.1:5432)',
    'Reinitialize is completed on: b (start failed)',
    '  a: creating replica: 100% (100.0 of 100.0 MB from 10.0.0.1:5432)',
    'Reinitialize is completed on: a (running)',
  ]);
  assert.equal(sleeps, 5);
  assert.equal(describeReinit({ state: 'stopped' }), 'stopped');
});
