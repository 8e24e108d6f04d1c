// HaLoop driven by hand against the fakes: one runCycle() at a time, with what the loop said
// recorded, to check what a cycle reads, decides and leaves behind (the lock, the fence, the
// answer to a request, the end of a shutdown).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CycleReport } from '../../../src/ha/snapshot.ts';
import { watchdogDeadline } from '../../../src/ha/watchdog.ts';
import { elapse, resolveOn, settle } from './fakes/clock.ts';
import { recordingLogger, type LogLine } from './fakes/log.ts';
import { FakeWorld, type FakeMember, type MemberSpec } from './fakes/world.ts';

interface Lone {
  world: FakeWorld;
  m: FakeMember;
  /** Why the loop was woken, in order. */
  wakes: string[];
  lines: LogLine[];
}

function group(names: string[], spec: Partial<MemberSpec> = {}): { world: FakeWorld; wakes: Map<string, string[]> } {
  const world = new FakeWorld();
  const wakes = new Map<string, string[]>();
  for (const name of names) {
    const own: string[] = [];
    wakes.set(name, own);
    world.add({
      name,
      ...spec,
      log: recordingLogger((line) => {
        if (line.msg === 'cycle woken') own.push(String(line.fields.reason));
      }),
    });
  }
  return { world, wakes };
}

function lone(spec: Partial<MemberSpec> = {}): Lone {
  const world = new FakeWorld();
  const wakes: string[] = [];
  const lines: LogLine[] = [];
  const m = world.add({
    name: 'm1',
    ...spec,
    log: recordingLogger((line) => {
      lines.push(line);
      if (line.msg === 'cycle woken') wakes.push(String(line.fields.reason));
    }),
  });
  return { world, m, wakes, lines };
}

/** One cycle, then whatever it started in the background and takes no simulated time. */
async function cycle(m: FakeMember): Promise<CycleReport> {
  const report = await m.loop.runCycle();
  await settle();
  return report;
}

function kinds(report: CycleReport): string[] {
  return report.decision?.actions.map((a) => a.kind) ?? [];
}

/** A lone member that bootstrapped and holds the lock. */
async function leader(l: Lone = lone()): Promise<Lone> {
  await l.m.loop.attach();
  assert.deepEqual(kinds(await cycle(l.m)), ['bootstrap', 'touchMember']);
  assert.deepEqual(kinds(await cycle(l.m)), ['updateLock', 'touchMember']);
  return l;
}

describe('HaLoop cycles', () => {
  test('a lone member bootstraps, takes the lock and leads', async () => {
    const { world, m, wakes } = await leader();
    assert.ok(m.pg.writable);
    assert.equal(world.etcd.value('leader'), 'm1');
    assert.equal(world.etcd.value('initialize'), m.pg.data?.systemId);
    assert.ok(wakes.includes('bootstrap ended'), 'the end of the bootstrap wakes the loop');
    const snap = m.loop.snapshot();
    assert.deepEqual(snap.lock, { kind: 'held', confirmedAt: world.clock.now() });
    assert.equal(snap.local?.kind, 'runningPrimary');
    assert.equal(snap.lastDecision?.role, 'primary');
    const member = world.etcd.json('members/m1') as Record<string, unknown>;
    assert.equal(member.state, 'running');
    assert.equal(member.role, 'primary');
    assert.equal(world.etcd.get('members/m1')?.lease, world.etcd.get('leader')?.lease);
  });

  test('a bootstrap that takes time shows as busy, and the lock it took is adopted by the next cycle', async () => {
    const l = lone({ postgres: { delays: { bootstrap: () => 4000 } } });
    await l.m.loop.attach();
    const first = await cycle(l.m);
    assert.equal(first.hurry, true, 'a cycle that started a long task is followed at once');
    assert.deepEqual(l.m.loop.snapshot().local, { kind: 'busy', task: 'bootstrap', since: l.world.clock.now() });
    assert.equal(JSON.parse(l.world.etcd.value('members/m1') ?? '{}').state, 'initializing new cluster');
    await elapse(l.world.clock, 4000);
    assert.equal(l.world.etcd.value('leader'), 'm1');
    assert.deepEqual(l.m.loop.snapshot().lock, { kind: 'notHeld' }, 'not before a cycle adopts it');
    await cycle(l.m);
    assert.deepEqual(l.m.loop.snapshot().lock, { kind: 'held', confirmedAt: l.world.clock.now() });
  });

  test('a second member clones from the leader, starts as its replica and streams', async () => {
    const { world } = group(['m1', 'm2']);
    const [m1, m2] = world.members;
    await m1.loop.attach();
    await m2.loop.attach();
    await cycle(m1);
    await cycle(m1);
    assert.deepEqual(kinds(await cycle(m2)), ['clone', 'touchMember']);
    assert.deepEqual(kinds(await cycle(m2)), ['follow', 'startPostgres', 'touchMember']);
    await elapse(world.clock, 200);
    assert.equal(m2.pg.role, 'replica');
    assert.equal(m2.pg.streaming, true);
    const report = await cycle(m2);
    assert.match(report.decision?.reason ?? '', /a replica following leader m1$/);
    assert.equal(m2.loop.snapshot().local?.kind, 'runningReplica');
  });

  test('the lock recorded as held is not trusted once etcd names another leader', async () => {
    const { world, m } = await leader();
    // The lease ran out while the agent was away, and m2 took the key.
    world.etcd.put('leader', 'm2');
    world.etcd.put('members/m2', JSON.stringify({ conn_url: 'postgres://10.0.0.2:5432/postgres', state: 'running' }));
    const report = await cycle(m);
    assert.deepEqual(kinds(report), ['demote', 'touchMember']);
    assert.deepEqual(report.decision?.actions[0], { kind: 'demote', mode: 'immediate' });
    assert.deepEqual(m.loop.snapshot().lock, { kind: 'notHeld' });
    assert.equal(m.pg.writable, false);
    assert.equal(world.etcd.value('leader'), 'm2', "another member's key is left alone");
  });

  test('an action failing on an etcd outage makes the next cycle decide without reading', async () => {
    const { world, m } = await leader();
    const confirmedAt = world.clock.now();
    let cut = false;
    m.store.onCall((call) => {
      if (call !== 'updateLeader m1' || cut) return;
      cut = true;
      world.etcd.startOutage('refused');
    });
    world.clock.advance(10_000);
    const failed = await cycle(m);
    assert.deepEqual(kinds(failed), ['updateLock', 'touchMember']);
    assert.equal(failed.hurry, false, 'a failed list never hurries');
    assert.deepEqual(m.loop.snapshot().dcs, {
      kind: 'unreachable',
      since: world.clock.now(),
      error: 'updateLeader m1: etcd is unreachable (all hosts failed)',
    });
    assert.deepEqual(m.loop.snapshot().lock, { kind: 'held', confirmedAt }, 'an outage does not lose the lock');
    // etcd is back, but the fresh outage is acted on first: past retry_timeout, the primary demotes.
    world.etcd.endOutage();
    const calls = m.store.calls.length;
    const next = await cycle(m);
    assert.ok(!m.store.calls.slice(calls).includes('loadCluster'), 'the next cycle did not read');
    assert.deepEqual(next.decision?.actions, [{ kind: 'demote', mode: 'offline' }]);
    assert.match(next.decision?.reason ?? '', /^self-fencing: etcd unreachable/);
    assert.equal(m.pg.writable, false);
    const after = m.store.calls.length;
    const again = await cycle(m);
    assert.equal(m.store.calls[after], 'loadCluster', 'the cycle after reads again');
    assert.deepEqual(m.loop.snapshot().dcs, { kind: 'ok' });
    // The key outlived the outage: the stopped former primary takes up its role again.
    assert.deepEqual(kinds(again), ['updateLock', 'startPostgres', 'touchMember']);
  });

  test('a read that fails leaves PostgreSQL alone while the lock is fresh', async () => {
    const { world, m } = await leader();
    world.etcd.startOutage('refused');
    world.clock.advance(5000);
    const report = await cycle(m);
    assert.deepEqual(kinds(report), ['wait']);
    assert.match(report.decision?.reason ?? '', /lock confirmed 5s ago; demoting if not confirmed within 5s/);
    assert.ok(m.pg.writable);
  });

  test('the fence is armed only while a lock-holding primary runs', async () => {
    const { world, m } = await leader();
    const lock = m.loop.snapshot().lock;
    assert.equal(lock.kind, 'held');
    assert.deepEqual(m.fence.armed, {
      deadline: watchdogDeadline(world.clock.now(), 30),
      pid: m.pg.pid,
      dataDir: m.pg.dataDir,
    });
    world.clock.advance(10_000);
    await cycle(m);
    assert.equal(m.fence.armed?.deadline, watchdogDeadline(world.clock.now(), 30), 'moved with every refresh');
    // Another member holds the key now: this primary demotes.
    world.etcd.put('leader', 'm2');
    world.etcd.put('members/m2', JSON.stringify({ conn_url: 'postgres://10.0.0.2:5432/postgres', state: 'running' }));
    await cycle(m);
    assert.equal(m.pg.isRunning, false, 'demoted');
    assert.equal(m.fence.armed, null, 'disarmed after the demotion');
    assert.equal(m.fence.events.at(-1)?.kind, 'disarm');
  });

  test('in pause the fence is disarmed although the primary keeps the lock', async () => {
    const { world, m } = await leader();
    assert.notEqual(m.fence.armed, null);
    const config = world.etcd.json('config') as Record<string, unknown>;
    world.etcd.put('config', JSON.stringify({ ...config, pause: true }));
    world.clock.advance(1000);
    await cycle(m);
    assert.ok(m.pg.writable);
    assert.deepEqual(m.loop.snapshot().lock, { kind: 'held', confirmedAt: world.clock.now() });
    assert.equal(m.fence.armed, null);
    world.etcd.put('config', JSON.stringify({ ...config, pause: false }));
    await cycle(m);
    assert.notEqual(m.fence.armed, null, 'armed again after the pause');
  });

  test('a restart request is answered after the cycle that took it, its task seen busy by that cycle', async () => {
    const { world, m, wakes } = await leader(lone({ postgres: { delays: { stop: () => 500, start: () => 500 } } }));
    let answered = false;
    const outcome = m.loop.request({ kind: 'restart', role: null, onlyIfPending: false });
    void outcome.then(() => (answered = true));
    assert.equal(wakes.at(-1), 'restart requested');
    await settle();
    assert.equal(answered, false, 'no answer before a cycle ran');
    const report = await cycle(m);
    assert.deepEqual(kinds(report), ['updateLock', 'restart', 'touchMember']);
    assert.equal(answered, true);
    const answer = await outcome;
    assert.equal(answer.kind, 'started');
    assert.equal(m.loop.snapshot().local?.kind, 'busy', 'the snapshot shows the restart this cycle started');
    assert.equal(JSON.parse(world.etcd.value('members/m1') ?? '{}').state, 'restarting');
    if (answer.kind !== 'started') return;
    await resolveOn(world.clock, answer.done);
    assert.ok(m.pg.writable);
    assert.deepEqual(m.pg.calls.slice(-3), ['checkpoint', 'stop fast', 'start']);
    await cycle(m);
    assert.equal(m.loop.snapshot().local?.kind, 'runningPrimary');
  });

  test('a second request while one waits is refused at once', async () => {
    const { m } = await leader();
    const first = m.loop.request({ kind: 'restart', role: null, onlyIfPending: false });
    const second = await m.loop.request({ kind: 'reinitialize', force: false });
    assert.equal(second.kind, 'refused');
    await cycle(m);
    assert.equal((await first).kind, 'started');
  });

  test('a request the cycle refuses is answered with its reason', async () => {
    const { m } = await leader();
    const outcome = m.loop.request({ kind: 'restart', role: 'replica', onlyIfPending: false });
    await cycle(m);
    assert.deepEqual(await outcome, {
      kind: 'refused',
      reason: 'restart conditions are not satisfied: role is primary, not replica',
    });
    assert.ok(!m.pg.calls.includes('stop fast'));
  });

  test('a postgres crash wakes the loop and the crashed primary is restarted in place', async () => {
    const { world, m, wakes } = await leader();
    m.pg.crash();
    assert.equal(wakes.at(-1), 'postgres exited');
    const report = await cycle(m);
    assert.deepEqual(kinds(report), ['updateLock', 'restartInPlace', 'touchMember']);
    assert.match(report.decision?.reason ?? '', /primary crashed 0s ago: restarting in place/);
    assert.equal(report.hurry, true);
    await settle();
    assert.ok(m.pg.writable);
    assert.equal(m.pg.data?.timeline, 1, 'same timeline: no failover');
    assert.equal(world.etcd.value('leader'), 'm1');
  });

  test('a change of the leader key wakes the loop through its watch', async () => {
    const { world, m, wakes } = await leader();
    world.etcd.delete('leader');
    await settle();
    assert.equal(wakes.at(-1), 'leader delete');
    const report = await cycle(m);
    assert.deepEqual(kinds(report), ['acquireLock', 'updateLock', 'touchMember']);
    assert.equal(world.etcd.value('leader'), 'm1');
  });

  test('shutdown stops the primary, then releases the leader key: shutdownComplete', async () => {
    const { world, m } = await leader();
    assert.equal(m.loop.shutdownComplete, false);
    m.loop.beginShutdown();
    assert.equal(m.loop.shutdownComplete, false, 'not before the last cycle ran');
    const report = await cycle(m);
    assert.deepEqual(kinds(report), ['demote', 'releaseLock', 'touchMember']);
    assert.equal(m.loop.shutdownComplete, true);
    assert.equal(m.pg.isRunning, false);
    assert.equal(m.pg.data?.state, 'shut down');
    assert.equal(world.etcd.get('leader'), undefined);
    assert.deepEqual(world.etcd.json('status'), { optime: m.pg.data?.checkpointLsn });
    assert.equal(m.fence.armed, null);
    await m.loop.detach();
    assert.equal(m.fence.events.at(-1)?.kind, 'stop');
    const refused = await m.loop.request({ kind: 'restart', role: null, onlyIfPending: false });
    assert.equal(refused.kind, 'refused');
  });

  test('shutdown of a replica stops it and leaves the leader alone', async () => {
    const { world } = group(['m1', 'm2']);
    const [m1, m2] = world.members;
    for (const m of [m1, m2]) await m.loop.attach();
    await cycle(m1);
    await cycle(m1);
    await cycle(m2);
    await cycle(m2);
    await elapse(world.clock, 200);
    assert.equal(m2.pg.role, 'replica');
    m2.loop.beginShutdown();
    const report = await cycle(m2);
    assert.deepEqual(kinds(report), ['stopPostgres', 'touchMember']);
    assert.equal(m2.loop.shutdownComplete, true);
    assert.equal(world.etcd.value('leader'), 'm1');
    assert.ok(m1.pg.writable);
  });

  test('shutdown while the stop takes time completes only once PostgreSQL is down', async () => {
    const { world, m } = await leader(lone({ postgres: { delays: { stop: () => 3000 } } }));
    m.loop.beginShutdown();
    let report: CycleReport | null = null;
    void m.loop.runCycle().then((r) => (report = r));
    await elapse(world.clock, 2999);
    assert.equal(report, null, 'the cycle waits for the stop');
    assert.equal(m.loop.shutdownComplete, false);
    assert.equal(world.etcd.value('leader'), 'm1', 'the key is held while PostgreSQL still runs');
    await elapse(world.clock, 1);
    assert.notEqual(report, null);
    assert.equal(m.loop.shutdownComplete, true);
    assert.equal(world.etcd.get('leader'), undefined);
  });
});

/** The member's agent and PostgreSQL die together (kill -9 of both). */
function kill(m: FakeMember): void {
  m.down = true;
  m.store.kill();
  m.pg.cutOff();
  m.pg.crash();
}

describe('leader races that once stalled, found by the group simulator', () => {
  test('a replica restarted after the primary died is ahead of the others but may not run: another leads', async () => {
    const { world } = group(['m1', 'm2', 'm3']);
    const [m1, m2, m3] = world.members;
    for (const m of world.members) await m.loop.attach();
    await cycle(m1);
    await cycle(m1);
    // Both replicas start at the same moment, so they pull the same WAL at the same times.
    for (const m of [m2, m3]) await cycle(m);
    for (const m of [m2, m3]) await cycle(m);
    await elapse(world.clock, 5000);
    assert.ok(m2.pg.streaming && m3.pg.streaming);
    assert.equal(m2.pg.walPosition(), m3.pg.walPosition());
    // The primary writes on and publishes its position, then dies before the replicas pull it.
    await elapse(world.clock, 50);
    await cycle(m1);
    kill(m1);
    // m2's PostgreSQL crashes too; its agent starts it again, but there is nothing to stream from.
    m2.pg.crash();
    assert.deepEqual(kinds(await cycle(m2)), ['follow', 'startPostgres', 'touchMember']);
    await elapse(world.clock, 31_000);
    assert.equal(world.etcd.value('leader'), null, "the dead primary's key expired");
    for (let i = 0; i < 6 && !m2.pg.writable && !m3.pg.writable; i++) {
      await cycle(m2);
      await cycle(m3);
      await elapse(world.clock, 10_000);
    }
    const why = (m: FakeMember) => `${m.name}: "${m.loop.snapshot().lastDecision?.reason}"`;
    assert.ok(m2.pg.writable || m3.pg.writable, `nobody leads; ${why(m2)}, ${why(m3)}`);
  });

  test('a former primary that raced as a replica and lost is rewound when the winner skipped its TL', async () => {
    const world = new FakeWorld();
    const m1 = world.add({ name: 'm1' });
    // m2 pulls often, m3 rarely: m2 gets ahead. m3 writes no WAL of its own as primary.
    const m2 = world.add({ name: 'm2', postgres: { streamIntervalMs: () => 100 } });
    const m3 = world.add({ name: 'm3', postgres: { streamIntervalMs: () => 1000, walBytesPerSecond: 0 } });
    for (const m of world.members) await m.loop.attach();
    await cycle(m1);
    await cycle(m1);
    for (const m of [m2, m3]) await cycle(m);
    for (const m of [m2, m3]) await cycle(m);
    await elapse(world.clock, 5500);
    kill(m1);
    assert.ok(m2.pg.walPosition() > m3.pg.walPosition(), 'm2 received more than m3');
    // A manual failover to m3: it wins as soon as the dead primary's key expires.
    world.etcd.put('failover', JSON.stringify({ member: 'm3' }));
    await elapse(world.clock, 30_000);
    assert.deepEqual(kinds(await cycle(m3)), [
      'acquireLock',
      'clearFailover',
      'promote',
      'writeHistory',
      'touchMember',
    ]);
    assert.ok(m3.pg.writable);
    // m2 turns to the new leader (and learns of its timeline), but has WAL past m3's switch point.
    await cycle(m2);
    await elapse(world.clock, 200);
    assert.equal(m2.pg.streaming, false);
    // Before m2 is rewound, etcd goes away: m3 fences itself and every key expires.
    world.etcd.startOutage('refused');
    await elapse(world.clock, 11_000);
    assert.deepEqual(kinds(await cycle(m3)), ['demote']);
    await elapse(world.clock, 30_000);
    world.etcd.endOutage();
    // m3 starts as a replica to race, m2 (further ahead on the old timeline) wins.
    assert.deepEqual(kinds(await cycle(m3)), ['follow', 'startPostgres', 'touchMember']);
    assert.deepEqual(kinds(await cycle(m2)), ['acquireLock', 'promote', 'writeHistory', 'touchMember']);
    assert.ok(m2.pg.writable, 'm2 leads');
    assert.equal(m2.pg.data?.timeline, 3, 'a timeline after the one m3 was on');
    await cycle(m2);
    assert.equal((world.etcd.json('members/m2') as { timeline: number }).timeline, 3, 'published');
    const since = m3.pg.calls.length;
    for (let i = 0; i < 6 && !m3.pg.streaming; i++) {
      await cycle(m2);
      await cycle(m3);
      await elapse(world.clock, 10_000);
    }
    assert.ok(
      m3.pg.streaming || m3.pg.calls.slice(since).some((c) => /^(rewind|clone|removeData)/.test(c)),
      `m3 is stuck on timeline ${m3.pg.data?.timeline}: "${m3.loop.snapshot().lastDecision?.reason}"`,
    );
  });
});
