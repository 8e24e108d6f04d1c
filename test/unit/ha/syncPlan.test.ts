import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ANY_STANDBY,
  ASYNC,
  covers,
  formatSsn,
  keyFor,
  NOBODY,
  parseSsn,
  planSync,
  wantedSsn,
  type Ssn,
  type SyncKey,
  type SyncMode,
  type SyncPlanInput,
  type SyncStep,
} from '../../../src/ha/syncPlan.ts';

const ssn = (k: number, ...names: string[]): Ssn => ({ k, names });
const key = (quorum: number, ...voters: string[]): SyncKey => ({ voters, quorum });

describe('covers: the key finds every commit acknowledged under the ssn', () => {
  const cases: [string, SyncKey, Ssn, boolean][] = [
    ['nobody promotable covers anything', NOBODY, ANY_STANDBY, true],
    ['on: the one sync standby is the voter', key(0, 'b'), ssn(1, 'b'), true],
    ['on: a voter that is not the sync standby', key(0, 'c'), ssn(1, 'b'), false],
    ['on: two sync standbys, either may be promoted', key(0, 'b', 'c'), ssn(2, 'b', 'c'), true],
    ['quorum ANY 1 of 2: a candidate must hear the other', key(1, 'b', 'c'), ssn(1, 'b', 'c'), true],
    ['quorum ANY 1 of 2 without asking anyone', key(0, 'b', 'c'), ssn(1, 'b', 'c'), false],
    ['quorum ANY 2 of 3: hear one other', key(1, 'b', 'c', 'd'), ssn(2, 'b', 'c', 'd'), true],
    ['quorum ANY 1 of 3: hear both others', key(2, 'b', 'c', 'd'), ssn(1, 'b', 'c', 'd'), true],
    ['quorum ANY 1 of 3 hearing one other', key(1, 'b', 'c', 'd'), ssn(1, 'b', 'c', 'd'), false],
    ['a standby outside the voters can hold the commit alone', key(1, 'b', 'c'), ssn(1, 'b', 'c', 'd'), false],
    ['asynchronous commits cannot be found by any voter', key(0, 'b'), ASYNC, false],
    ['any standby cannot be covered by voters', key(1, 'b', 'c'), ANY_STANDBY, false],
  ];
  for (const [name, k, s, want] of cases) test(name, () => assert.equal(covers(k, s), want));

  test('agrees with brute force over every subset, for up to four names', () => {
    const pool = ['a', 'b', 'c', 'd'];
    const subsets = (xs: string[]): string[][] =>
      xs.reduce<string[][]>((acc, x) => [...acc, ...acc.map((s) => [...s, x])], [[]]);
    for (const names of subsets(pool).filter((s) => s.length > 0)) {
      for (let k = 1; k <= names.length; k++) {
        for (const voters of subsets(pool).filter((s) => s.length > 0)) {
          for (let q = 0; q < voters.length; q++) {
            // Brute force: some acknowledging k-set avoids some candidate's q+1 heard voters.
            const acks = subsets(names).filter((s) => s.length === k);
            const heards = subsets(voters).filter((s) => s.length === q + 1);
            const missed = acks.some((a) => heards.some((h) => a.every((n) => !h.includes(n))));
            assert.equal(covers(key(q, ...voters), ssn(k, ...names)), !missed, `${k} of ${names} vs ${q} of ${voters}`);
          }
        }
      }
    }
  });
});

describe('wantedSsn and keyFor', () => {
  test('on: the best synchronous_node_count candidates, all of them required', () => {
    assert.deepEqual(wantedSsn('on', false, 1, ['c', 'b']), ssn(1, 'c'));
    assert.deepEqual(wantedSsn('on', false, 2, ['c', 'b', 'd']), ssn(2, 'b', 'c'));
    assert.deepEqual(keyFor('on', ssn(2, 'b', 'c')), key(0, 'b', 'c'));
  });
  test('quorum: every candidate, k acknowledgements, a quorum of the rest', () => {
    assert.deepEqual(wantedSsn('quorum', false, 1, ['c', 'b', 'd']), ssn(1, 'b', 'c', 'd'));
    assert.deepEqual(wantedSsn('quorum', false, 5, ['c', 'b']), ssn(2, 'b', 'c'));
    assert.deepEqual(keyFor('quorum', ssn(1, 'b', 'c', 'd')), key(2, 'b', 'c', 'd'));
    assert.deepEqual(keyFor('quorum', ssn(2, 'b', 'c', 'd')), key(1, 'b', 'c', 'd'));
  });
  test('no candidate: asynchronous, or any standby in strict mode; off is always asynchronous', () => {
    assert.deepEqual(wantedSsn('on', false, 1, []), ASYNC);
    assert.deepEqual(wantedSsn('quorum', true, 1, []), ANY_STANDBY);
    assert.deepEqual(wantedSsn('off', true, 1, ['b']), ASYNC);
    assert.deepEqual(keyFor('on', ANY_STANDBY), NOBODY);
  });
  test('every settled key covers its ssn', () => {
    for (const mode of ['on', 'quorum'] as const) {
      for (let n = 1; n <= 4; n++) {
        const cands = ['b', 'c', 'd', 'e'].slice(0, n);
        for (let count = 1; count <= 4; count++) {
          const s = wantedSsn(mode, false, count, cands);
          assert.ok(covers(keyFor(mode, s), s), `${mode} ${count} of ${cands}`);
        }
      }
    }
  });
});

describe('formatSsn and parseSsn', () => {
  test('the forms written', () => {
    assert.equal(formatSsn('on', ssn(1, 'm2')), '1 ("m2")');
    assert.equal(formatSsn('quorum', ssn(2, 'b', 'c', 'd')), 'ANY 2 ("b","c","d")');
    assert.equal(formatSsn('on', ANY_STANDBY), '*');
    assert.equal(formatSsn('quorum', ASYNC), '');
  });
  test('read back what was written, quotes included', () => {
    for (const [mode, s] of [
      ['on', ssn(1, 'm-2')],
      ['quorum', ssn(2, 'a "b"', 'c,d', 'e')],
      ['on', ANY_STANDBY],
      ['on', ASYNC],
    ] as const) {
      assert.deepEqual(parseSsn(formatSsn(mode, s)), s);
    }
  });
  test('older forms: a plain list is FIRST 1 of it, FIRST k reads like ANY k', () => {
    assert.deepEqual(parseSsn('b, c'), ssn(1, 'b', 'c'));
    assert.deepEqual(parseSsn('FIRST 2 (b, c, d)'), ssn(2, 'b', 'c', 'd'));
    assert.deepEqual(parseSsn('any 1 (b,*)'), ANY_STANDBY);
  });
  test('what cannot be read is null', () => {
    for (const text of ['2 (b)', '0 (b)', 'ANY 1 ()', '"b', 'b,,c', 'ANY x (b)']) {
      assert.equal(parseSsn(text), null, text);
    }
  });
});

/**
 * A leader's world in small: what PostgreSQL runs, the key, which ssn values the latest
 * acknowledged commit may have been acknowledged under, and which standbys flushed past the mark
 * recorded after the last ssn change. Steps are applied one at a time, as the executor does.
 */
class Model {
  ssn: Ssn = ASYNC;
  key: SyncKey | null = null;
  live: Ssn[] = [ASYNC];
  confirmed: string[] | null = [];

  apply(step: SyncStep): void {
    if (step.kind === 'writeKey') this.key = step.key;
    else if (step.kind === 'deleteKey') this.key = null;
    else {
      this.ssn = step.ssn;
      this.live.push(step.ssn);
      this.confirmed = null;
    }
  }

  /** Standbys report flushing past the mark; once all of the ssn's have, only it can hold the latest commit. */
  confirm(names: string[]): void {
    this.confirmed = [...new Set([...(this.confirmed ?? []), ...names])];
    if (this.ssn.names.every((n) => n !== '*' && this.confirmed!.includes(n))) this.live = [this.ssn];
  }

  /** The invariant: a key in force finds the latest acknowledged commit, whichever ssn acknowledged it. */
  check(context: string): void {
    if (this.key === null) return;
    for (const s of this.live) {
      assert.ok(covers(this.key, s), `${context}: key ${JSON.stringify(this.key)} misses ${JSON.stringify(s)}`);
    }
  }
}

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('planSync', () => {
  const base = (over: Partial<SyncPlanInput>): SyncPlanInput => ({
    mode: 'on',
    strict: false,
    nodeCount: 1,
    ssn: ASYNC,
    key: null,
    candidates: [],
    confirmed: [],
    ...over,
  });

  test('a new leader first writes a key that promises nothing it cannot keep', () => {
    assert.deepEqual(planSync(base({ ssn: ASYNC, key: null, candidates: ['b'] })), [{ kind: 'writeKey', key: NOBODY }]);
  });

  test('a standby joins in on mode: ssn first, the key once it caught up', () => {
    const m = new Model();
    m.key = NOBODY;
    const input = () => base({ ssn: m.ssn, key: m.key, candidates: ['b'], confirmed: m.confirmed });
    assert.deepEqual(planSync(input()), [{ kind: 'setSsn', ssn: ssn(1, 'b') }]);
    m.apply(planSync(input())[0]!);
    assert.deepEqual(planSync(input()), [], 'waits for b to catch up');
    m.confirm(['b']);
    assert.deepEqual(planSync(input()), [{ kind: 'writeKey', key: key(0, 'b') }]);
  });

  test('the sync standby is replaced in on mode: nobody is promotable until the new one caught up', () => {
    const steps = planSync(
      base({ ssn: ssn(1, 'b'), key: key(0, 'b'), candidates: ['c'], confirmed: ['b'], nodeCount: 1 }),
    );
    assert.deepEqual(steps, [
      { kind: 'writeKey', key: NOBODY },
      { kind: 'setSsn', ssn: ssn(1, 'c') },
    ]);
  });

  test('a voter joins in quorum mode: the key widens first, with a quorum covering both', () => {
    const steps = planSync(
      base({
        mode: 'quorum',
        ssn: ssn(1, 'b', 'c'),
        key: key(1, 'b', 'c'),
        candidates: ['b', 'c', 'd'],
        confirmed: ['b', 'c'],
      }),
    );
    assert.deepEqual(steps, [
      { kind: 'writeKey', key: key(2, 'b', 'c', 'd') },
      { kind: 'setSsn', ssn: ssn(1, 'b', 'c', 'd') },
    ]);
  });

  test('a voter vanishes in quorum mode: ssn shrinks under the old key, the key narrows once confirmed', () => {
    const input = base({
      mode: 'quorum',
      ssn: ssn(1, 'b', 'c', 'd'),
      key: key(2, 'b', 'c', 'd'),
      candidates: ['b', 'c'],
      confirmed: ['b', 'c', 'd'],
    });
    assert.deepEqual(planSync(input), [{ kind: 'setSsn', ssn: ssn(1, 'b', 'c') }]);
    const after = { ...input, ssn: ssn(1, 'b', 'c'), confirmed: null };
    assert.deepEqual(planSync(after), []);
    assert.deepEqual(planSync({ ...after, confirmed: ['b', 'c'] }), [{ kind: 'writeKey', key: key(1, 'b', 'c') }]);
  });

  test('strict mode without a standby waits for any standby; off deletes the key and goes asynchronous', () => {
    assert.deepEqual(planSync(base({ strict: true, ssn: ssn(1, 'b'), key: key(0, 'b'), confirmed: ['b'] })), [
      { kind: 'writeKey', key: NOBODY },
      { kind: 'setSsn', ssn: ANY_STANDBY },
    ]);
    assert.deepEqual(planSync(base({ mode: 'off', ssn: ssn(1, 'b'), key: key(0, 'b') })), [
      { kind: 'deleteKey' },
      { kind: 'setSsn', ssn: ASYNC },
    ]);
  });

  test('random walks keep the invariant at every step and settle once nothing changes', () => {
    const pool = ['b', 'c', 'd', 'e'];
    let steps = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const random = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
      const m = new Model();
      let mode: SyncMode = pick(['on', 'quorum'] as const);
      let strict = random() < 0.5;
      let nodeCount = 1 + Math.floor(random() * 3);
      let candidates = pool.filter(() => random() < 0.6);
      for (let event = 0; event < 60; event++) {
        const roll = random();
        if (roll < 0.15) candidates = pool.filter(() => random() < 0.6).sort(() => random() - 0.5);
        else if (roll < 0.2) nodeCount = 1 + Math.floor(random() * 3);
        else if (roll < 0.23) strict = !strict;
        else if (roll < 0.26) mode = pick(['on', 'quorum', 'off'] as const);
        else if (roll < 0.55 && m.confirmed !== null) m.confirm(m.ssn.names.filter(() => random() < 0.5));
        else if (roll < 0.65 && m.confirmed === null) m.confirmed = [];
        const plan = planSync({ mode, strict, nodeCount, ssn: m.ssn, key: m.key, candidates, confirmed: m.confirmed });
        // The executor may stop after any step (a failure ends the list): check after each one.
        for (const step of plan) {
          m.apply(step);
          steps++;
          m.check(`seed ${seed} event ${event} ${mode}${strict ? ' strict' : ''}`);
          if (random() < 0.1) break;
        }
      }
      // Settling: with the inputs fixed and every standby catching up, the plan reaches its goal.
      if (mode === 'off') continue;
      for (let round = 0; round < 6; round++) {
        if (m.confirmed === null) m.confirmed = [];
        m.confirm(m.ssn.names.filter((n) => n !== '*'));
        for (const step of planSync({
          mode,
          strict,
          nodeCount,
          ssn: m.ssn,
          key: m.key,
          candidates,
          confirmed: m.confirmed,
        })) {
          m.apply(step);
          m.check(`seed ${seed} settling`);
        }
      }
      const wanted = wantedSsn(mode, strict, nodeCount, candidates);
      assert.deepEqual(m.ssn, wanted, `seed ${seed}: runs what is wanted`);
      assert.deepEqual(m.key, keyFor(mode, wanted), `seed ${seed}: the key settled`);
    }
    assert.ok(steps > 1000, `${steps} steps checked`);
  });
});
