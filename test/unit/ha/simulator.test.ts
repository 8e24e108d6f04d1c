// The group simulator's scenarios, each run for many seeds: three members of one group, each a
// real HaLoop on fakes, interleaved by a seeded scheduler. After every step no two members run a
// writable primary and the leader key names a member; each scenario checks its own outcome on
// top. A failure names its seed; SIM_SEED=<n> runs that seed alone.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SimFailure, SimGroup, type SimMember } from './sim/group.ts';

const TTL = 30_000;
const LOOP_WAIT = 10_000;
const RETRY = 10_000;
const SEEDS_PER_SCENARIO = 100;
/** The mix runs five simulated minutes of faults per seed. */
const MIX_SEEDS = 40;

function seeds(count: number): number[] {
  const only = process.env.SIM_SEED;
  if (only !== undefined && only !== '') return [Number(only)];
  return Array.from({ length: count }, (_, i) => i + 1);
}

/** Runs `scenario` for every seed; an assertion that fails inside it is reported with its seed and trace. */
async function forSeeds(count: number, scenario: (sim: SimGroup) => Promise<void>): Promise<number> {
  let runs = 0;
  for (const seed of seeds(count)) {
    const sim = await SimGroup.start({ seed });
    try {
      await scenario(sim);
    } catch (err) {
      if (err instanceof SimFailure) throw err;
      sim.fail(err instanceof Error ? err.message : String(err));
    }
    if (process.env.SIM_TRACE) console.log(sim.traceText());
    runs++;
  }
  return runs;
}

/** From empty data directories and an empty etcd to one leader with two streaming replicas. */
async function bootstrapped(sim: SimGroup): Promise<string> {
  await sim.runUntil(() => sim.stable() !== null, 120_000, 'one leader and two streaming replicas');
  return sim.stable()!;
}

function others(sim: SimGroup, name: string): SimMember[] {
  return sim.members.filter((m) => m.name !== name);
}

function promotions(sim: SimGroup): number {
  return sim.members.reduce((n, m) => n + m.fake.pg.promotions.length, 0);
}

function lastPromotion(m: SimMember): { at: number; timeline: number; lsn: number } {
  const p = m.fake.pg.promotions.at(-1);
  assert.ok(p !== undefined, `${m.name} leads without having been promoted`);
  return p;
}

/** The member's callbacks but on_reload, which comes whenever a configuration change was reloaded. */
function roleCallbacks(m: SimMember): string[] {
  return m.fake.callbacks.filter((c) => !c.startsWith('on_reload'));
}

describe('group simulator', () => {
  test('bootstrap: one member initializes, the others clone from it and stream', async () => {
    await forSeeds(SEEDS_PER_SCENARIO, async (sim) => {
      const leader = await bootstrapped(sim);
      const bootstrapped_ = sim.members.filter((m) => m.fake.pg.calls.includes('bootstrap')).map((m) => m.name);
      assert.deepEqual(bootstrapped_, [leader], 'exactly the leader ran initdb');
      const systemId = sim.member(leader).fake.pg.data?.systemId;
      assert.equal(sim.world.etcd.value('initialize'), systemId);
      for (const m of others(sim, leader)) {
        assert.equal(m.fake.pg.data?.systemId, systemId, `${m.name} holds the leader's system`);
        assert.ok(m.fake.pg.calls.includes(`clone ${sim.member(leader).fake.pg.address.host}:5432`));
      }
      await sim.runFor(2 * LOOP_WAIT + sim.rng.int(0, TTL));
      assert.equal(sim.stable(), leader, 'nothing changes in a healthy group');
      assert.equal(promotions(sim), 0);
      for (const m of sim.members)
        assert.deepEqual(m.fake.callbacks, [m.name === leader ? 'on_start primary' : 'on_start replica'], m.name);
    });
  });

  test('kill of the primary: the most advanced replica leads within ttl + loop_wait, losing nothing', async () => {
    await forSeeds(SEEDS_PER_SCENARIO, async (sim) => {
      const old = await bootstrapped(sim);
      await sim.runFor(sim.rng.int(0, 20_000));
      assert.equal(sim.stable(), old);
      const received = Math.max(...others(sim, old).map((m) => m.fake.pg.walPosition()));
      const killedAt = sim.now;
      sim.kill(old);
      await sim.runUntil(() => sim.leading() !== null, TTL + LOOP_WAIT, 'a replica leads after the kill');
      const leader = sim.member(sim.leading()!);
      assert.notEqual(leader.name, old);
      const promotion = lastPromotion(leader);
      assert.ok(promotion.at > killedAt);
      assert.ok(
        promotion.lsn >= received,
        `${leader.name} promoted at ${promotion.lsn}, behind ${received} a replica had received`,
      );
      await sim.runUntil(() => sim.stable() === leader.name, 2 * LOOP_WAIT, 'the other replica follows the new leader');
      assert.equal(promotions(sim), 1, 'exactly one promotion');
      assert.deepEqual(roleCallbacks(leader), ['on_start replica', 'on_role_change primary']);
    });
  });

  test('pre_promote refuses every first promotion: each refused member sits out ttl, then one leads', async () => {
    await forSeeds(SEEDS_PER_SCENARIO, async (sim) => {
      const old = await bootstrapped(sim);
      for (const m of sim.members) {
        m.fake.config.postgresql.pre_promote = ['fence'];
        m.fake.fencing.verdict = () =>
          m.fake.fencing.askedAt.length > 1 ? { ok: true } : { ok: false, reason: 'exited with 1' };
      }
      sim.kill(old);
      await sim.runUntil(() => sim.stable() !== null, 4 * TTL + LOOP_WAIT, 'a leader after the refusals');
      const leader = sim.member(sim.stable()!);
      assert.equal(promotions(sim), 1, 'exactly one promotion');
      const asked = leader.fake.fencing.askedAt;
      assert.ok(asked.length >= 2, `${leader.name} asked pre_promote ${asked.length} times`);
      assert.ok(lastPromotion(leader).at >= asked.at(-1)!, 'promoted after the approval');
      for (const m of others(sim, old)) {
        const times = m.fake.fencing.askedAt;
        for (let i = 1; i < times.length; i++)
          assert.ok(times[i]! - times[i - 1]! >= TTL, `${m.name} asked again ${times[i]! - times[i - 1]!} ms later`);
      }
    });
  });

  test('switchover through the failover key: the candidate leads, the old primary rejoins as its replica', async () => {
    await forSeeds(SEEDS_PER_SCENARIO, async (sim) => {
      const old = await bootstrapped(sim);
      await sim.runFor(sim.rng.int(0, 10_000));
      const oldPg = sim.member(old).fake.pg;
      const candidate = sim.rng.chance(0.7) ? sim.rng.pick(others(sim, old)).name : null;
      sim.putKey('failover', candidate === null ? { leader: old } : { leader: old, member: candidate });
      let shutdownEnd: number | null = null;
      sim.probes.push(() => {
        if (shutdownEnd === null && !oldPg.writable) shutdownEnd = oldPg.walPosition();
      });
      await sim.runUntil(
        () => sim.stable() !== null && sim.stable() !== old,
        3 * LOOP_WAIT,
        'a new leader with the old primary streaming from it',
      );
      const leader = sim.member(sim.stable()!);
      if (candidate !== null) assert.equal(leader.name, candidate);
      assert.ok(shutdownEnd !== null);
      assert.equal(oldPg.data?.state, 'in archive recovery', 'the old primary runs as a replica');
      const promotion = lastPromotion(leader);
      assert.ok(
        promotion.lsn >= shutdownEnd,
        `${leader.name} promoted at ${promotion.lsn}, before the old primary's shutdown checkpoint ended at ` +
          `${shutdownEnd}`,
      );
      assert.deepEqual(sim.world.etcd.json('failover'), {}, 'the request is cleared');
      assert.equal(promotions(sim), 1);
      assert.deepEqual(roleCallbacks(sim.member(old)), [
        'on_start primary',
        'on_stop primary',
        'on_role_change replica',
      ]);
      assert.deepEqual(roleCallbacks(leader), ['on_start replica', 'on_role_change primary']);
      for (const m of others(sim, old).filter((o) => o !== leader))
        assert.deepEqual(roleCallbacks(m), ['on_start replica'], m.name);
    });
  });

  test('etcd outage beyond retry_timeout: the primary fences itself, nobody promotes until etcd is back', async () => {
    await forSeeds(SEEDS_PER_SCENARIO, async (sim) => {
      const old = await bootstrapped(sim);
      await sim.runFor(sim.rng.int(0, 15_000));
      const primary = sim.member(old).fake;
      const before = promotions(sim);
      let confirmedAt = 0;
      let demotedAt: number | null = null;
      sim.probes.push(() => {
        const lock = primary.loop.snapshot().lock;
        if (lock.kind === 'held') confirmedAt = Math.max(confirmedAt, lock.confirmedAt);
        if (demotedAt === null && !primary.pg.writable) demotedAt = sim.now;
        if (sim.world.etcd.reachable) return;
        const writable = sim.writablePrimaries().filter((n) => n !== old);
        if (writable.length > 0) sim.fail(`${writable.join(', ')} writable while etcd is unreachable`);
        if (promotions(sim) !== before) sim.fail('a promotion while etcd is unreachable');
      });
      sim.startOutage(sim.rng.pick(['refused', 'timeout'] as const));
      await sim.runFor(sim.rng.int(2 * RETRY + LOOP_WAIT + 5_000, 3 * TTL));
      assert.ok(demotedAt !== null, 'the primary demoted itself while etcd was unreachable');
      assert.ok(demotedAt < confirmedAt + TTL, 'it demoted before its lease could expire');
      assert.equal(primary.fence.fired, 0, 'the agent demoted on its own, before the fence had to');
      assert.ok(primary.pg.calls.includes('stop fast'));
      sim.endOutage();
      await sim.runUntil(() => sim.stable() !== null, TTL + 3 * LOOP_WAIT, 'a leader again after etcd is back');
    });
  });

  test('the primary agent dies, its PostgreSQL runs on: the fence stops it before a replica is promoted', async () => {
    await forSeeds(SEEDS_PER_SCENARIO, async (sim) => {
      const old = await bootstrapped(sim);
      await sim.runFor(sim.rng.int(0, 20_000));
      const primary = sim.member(old).fake;
      const deadline = primary.fence.armed?.deadline;
      assert.ok(deadline !== undefined, 'the fence of a lock-holding primary is armed');
      let fencedAt: number | null = null;
      let received = 0;
      sim.probes.push(() => {
        if (fencedAt !== null || primary.pg.isRunning) return;
        fencedAt = sim.now;
        received = Math.max(...others(sim, old).map((m) => m.fake.pg.walPosition()));
      });
      sim.kill(old, { postgres: false });
      await sim.runUntil(() => sim.leading() !== null, TTL + LOOP_WAIT, 'a replica leads after the fence');
      assert.equal(primary.fence.fired, 1);
      assert.ok(fencedAt !== null && fencedAt <= deadline + 1, 'stopped at the deadline of its last arm');
      const promotion = lastPromotion(sim.member(sim.leading()!));
      assert.ok(promotion.at > fencedAt);
      assert.ok(promotion.lsn >= received, `promoted at ${promotion.lsn}, behind ${received} a replica had received`);
    });
  });

  test('a mix of faults: never two writable primaries, and a leader again once they stop', async () => {
    await forSeeds(MIX_SEEDS, async (sim) => {
      await bootstrapped(sim);
      let killed = false;
      const end = sim.now + 5 * 60_000;
      while (sim.now < end) {
        await sim.runFor(sim.rng.int(2_000, 40_000));
        const live = sim.members.filter((m) => !m.fake.down);
        const leader = sim.world.etcd.value('leader');
        switch (sim.rng.int(0, 4)) {
          case 0: {
            const victim = sim.rng.pick(live);
            if (victim.fake.pg.isRunning) sim.crashPostgres(victim.name);
            break;
          }
          case 1: {
            if (leader === null) break;
            const candidates = live.filter((m) => m.name !== leader);
            const candidate = candidates.length > 0 && sim.rng.chance(0.5) ? sim.rng.pick(candidates).name : null;
            sim.putKey('failover', candidate === null ? { leader } : { leader, member: candidate });
            break;
          }
          case 2:
          case 3: {
            sim.startOutage(sim.rng.pick(['refused', 'timeout'] as const));
            await sim.runFor(sim.rng.int(1_000, 60_000));
            sim.endOutage();
            break;
          }
          case 4: {
            if (killed) break;
            killed = true;
            sim.kill(sim.rng.pick(live).name, { postgres: sim.rng.chance(0.5) });
            break;
          }
        }
      }
      await sim.runUntil(() => sim.stable() !== null, 3 * TTL, 'a leader with every live member streaming from it');
      await sim.runFor(LOOP_WAIT);
      for (const m of sim.members.filter((x) => !x.fake.down)) {
        const last = roleCallbacks(m).at(-1);
        assert.equal(last?.split(' ')[1], m.fake.pg.role, `${m.name}'s callbacks: ${m.fake.callbacks.join(', ')}`);
      }
    });
  });

  test('a seed replays the same run; another seed interleaves differently', async () => {
    const run = async (seed: number) => {
      const sim = await SimGroup.start({ seed });
      await bootstrapped(sim);
      await sim.runFor(LOOP_WAIT);
      return sim.traceText();
    };
    const first = await run(7);
    assert.equal(await run(7), first);
    assert.notEqual(await run(8), first);
  });

  test('the invariant check catches two writable primaries', async () => {
    const sim = await SimGroup.start({ seed: 1 });
    const leader = await bootstrapped(sim);
    const rogue = others(sim, leader)[0].fake.pg;
    // Promoted behind its agent's back: the group gets two writable primaries once it is done.
    void rogue.promote();
    await assert.rejects(sim.runFor(LOOP_WAIT), /^SimFailure: seed 1 .*two writable primaries/s);
  });
});
