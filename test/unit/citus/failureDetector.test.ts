// The worker failure detector as a table of probe sequences, and its invariants over all
// sequences of a given length.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  nextHealth,
  type GroupHealth,
  type HealthAction,
  type ProbeResult,
} from '../../../src/citus/failureDetector.ts';

const ok: ProbeResult = { ok: true };
const fail: ProbeResult = { ok: false, reason: 'connection refused' };

/** A primary the probes have reached before. */
const UP: GroupHealth = { address: 'w1:5432', failures: 0, suspect: false, seenUp: true };

/** Runs a sequence at one address ('+' ok, '-' failed) from a primary seen up; returns the action kinds. */
function run(
  seq: string,
  count: number,
  address = 'w1:5432',
  start: GroupHealth | null = { ...UP, address },
): { kinds: string[]; last: GroupHealth | undefined } {
  // null: a primary the probes never saw.
  let health = start ?? undefined;
  const kinds: string[] = [];
  for (const c of seq) {
    const next = nextHealth(health, address, c === '+' ? ok : fail, count);
    health = next.health;
    kinds.push(next.action.kind);
  }
  return { kinds, last: health };
}

describe('worker failure detector', () => {
  const cases: Array<[string, string, number, string[]]> = [
    ['healthy probes do nothing', '+++', 2, ['none', 'none', 'none']],
    ['one failure is not enough with count 2', '-+', 2, ['none', 'none']],
    ['two failures in a row make the group suspect, once', '----', 2, ['none', 'suspect', 'none', 'none']],
    ['count 1 suspects at the first failure', '-', 1, ['suspect']],
    ['failures must be consecutive', '-+-+', 2, ['none', 'none', 'none', 'none']],
    ['a suspect primary that answers again has recovered', '--+', 2, ['none', 'suspect', 'recovered']],
    ['after recovery it takes count failures again', '--+--', 2, ['none', 'suspect', 'recovered', 'none', 'suspect']],
    ['count 3', '---+', 3, ['none', 'none', 'suspect', 'recovered']],
  ];
  for (const [name, seq, count, want] of cases) test(name, () => assert.deepEqual(run(seq, count).kinds, want));

  test('a new address (a repointed group) starts afresh: old failures do not count, no recovery is reported', () => {
    const { last } = run('--', 2, 'old:5432');
    assert.equal(last?.suspect, true);
    const next = nextHealth(last, 'new:5432', ok, 2);
    assert.deepEqual(next.action, { kind: 'none' });
    assert.deepEqual(nextHealth(last, 'new:5432', fail, 2).action, { kind: 'none' });
  });

  test('failures at an address the probes never reached are reported once as unreachable, never as suspect', () => {
    assert.deepEqual(run('----', 2, 'w1:5432', null).kinds, ['none', 'unreachable', 'none', 'none']);
    // Once it answered, the next failures count as usual.
    assert.deepEqual(run('--+--', 2, 'w1:5432', null).kinds, ['none', 'unreachable', 'none', 'none', 'suspect']);
  });

  test('the reason names the count and the last failure', () => {
    const action = run('--', 2).kinds;
    assert.deepEqual(action, ['none', 'suspect']);
    const second = nextHealth({ address: 'a', failures: 1, suspect: false, seenUp: true }, 'a', fail, 2)
      .action as HealthAction & { reason: string };
    assert.equal(second.reason, '2 probes in a row failed: connection refused');
  });

  test(
    'invariants over every sequence of 10 rounds: suspect only after count failures in a row, ' +
      'recovered only right after a suspect stretch',
    () => {
      for (const count of [1, 2, 3]) {
        for (let bits = 0; bits < 1 << 10; bits++) {
          const seq = [...Array(10).keys()].map((i) => ((bits >> i) & 1 ? '+' : '-')).join('');
          const { kinds } = run(seq, count);
          let streak = 0;
          let suspect = false;
          for (const [i, kind] of kinds.entries()) {
            streak = seq[i] === '-' ? streak + 1 : 0;
            if (kind === 'suspect') {
              assert.ok(streak >= count && !suspect, `${seq} count ${count} round ${i}`);
              suspect = true;
            }
            if (kind === 'recovered') {
              assert.ok(suspect && seq[i] === '+', `${seq} count ${count} round ${i}`);
              suspect = false;
            }
            if (seq[i] === '+') suspect = false;
            if (streak === count && !kinds.slice(i - count + 1, i + 1).includes('suspect')) {
              assert.fail(`${seq} count ${count}: ${count} failures in a row at round ${i} without a suspect`);
            }
          }
        }
      }
    },
  );
});
