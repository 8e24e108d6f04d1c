// The executor against the fakes: each action kind's effect on etcd and PostgreSQL, the lock it
// leaves, how a failure stops the list, the handover's wait, and the long tasks it starts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Config } from '../../../src/config/types.ts';
import { groupOf } from '../../../src/dcs/view.ts';
import { Executor, type ExecutorDeps, type HaHooks } from '../../../src/ha/execute.ts';
import { LocalTracker } from '../../../src/ha/localTracker.ts';
import type { PeerAsker } from '../../../src/ha/ports.ts';
import type { Action, DecideInput, LocalState, LockState, PeerPoll } from '../../../src/ha/types.ts';
import { silentLogger } from '../../../src/log.ts';
import { elapse, FakeClock, resolveOn, settle } from './fakes/clock.ts';
import { memberConfig } from './fakes/config.ts';
import { FakeEtcd, FakeStore } from './fakes/etcd.ts';
import { FakePostgres, INITIAL_WAL, PgNetwork, initdbData, type FakeData, type PgTask } from './fakes/postgres.ts';
import { input } from './fixtures.ts';

const SYSTEM = '7300000000000000001';

interface Setup {
  clock: FakeClock;
  etcd: FakeEtcd;
  store: FakeStore;
  pg: FakePostgres;
  /** Another member's PostgreSQL (10.0.0.2), to clone or rewind from. */
  peer: FakePostgres;
  config: Config;
  tracker: LocalTracker;
  executor: Executor;
  wakes: string[];
  demoteHooks: number;
}

interface SetupOptions {
  askPeers?: PeerAsker;
  runFencing?: ExecutorDeps['runFencing'];
  delays?: Partial<Record<PgTask, () => number>>;
  hooks?: HaHooks;
}

function setup(options: SetupOptions = {}): Setup {
  const clock = new FakeClock();
  const etcd = new FakeEtcd(clock);
  const network = new PgNetwork();
  const config = memberConfig({ name: 'm1', index: 1 });
  const store = new FakeStore(etcd, { ttl: 30, retryTimeout: 10 });
  const pg = new FakePostgres({
    name: 'm1',
    address: config.postgresql.connect_address,
    clock,
    network,
    delays: options.delays,
  });
  const peer = new FakePostgres({ name: 'm2', address: { host: '10.0.0.2', port: 5432 }, clock, network });
  const tracker = new LocalTracker();
  const wakes: string[] = [];
  const s: Setup = { clock, etcd, store, pg, peer, config, tracker, wakes, demoteHooks: 0 } as Setup;
  s.executor = new Executor({
    config,
    store,
    postgres: pg,
    tracker,
    askPeers: options.askPeers ?? (() => Promise.resolve({ answers: {} })),
    log: silentLogger,
    hooks: options.hooks ?? {
      beforeDemote: async () => {
        s.demoteHooks++;
      },
    },
    wake: (reason) => wakes.push(reason),
    now: clock.now,
    memberExtras: () => ({ version: '0.1.0', paused: false, pendingRestart: false }),
    // Without postgresql.pre_promote nothing is to be run: a call fails the promotion.
    runFencing: options.runFencing ?? (() => Promise.reject(new Error('pre_promote is not configured'))),
  });
  etcd.put('initialize', SYSTEM);
  etcd.put('members/m2', memberJson('m2', 2));
  return s;
}

function memberJson(name: string, index: number): string {
  return JSON.stringify({
    conn_url: `postgres://10.0.0.${index}:5432/postgres`,
    api_url: `http://10.0.0.${index}:8008/patroni`,
    state: 'running',
    role: 'replica',
    version: '0.1.0',
  });
}

function data(over: Partial<FakeData> = {}): FakeData {
  return initdbData(SYSTEM, over);
}

/** A running primary (no standby.signal) or replica (with it) from seeded data. */
async function running(
  clock: FakeClock,
  pg: FakePostgres,
  role: 'primary' | 'replica',
  over: Partial<FakeData> = {},
): Promise<void> {
  pg.seed(data({ standbySignal: role === 'replica', ...over }));
  const started = await resolveOn(clock, pg.start());
  assert.equal(started.kind, 'ready');
}

/** The cycle's input as the loop would build it: the group read from the fake etcd. */
async function cycleInput(s: Setup, spec: { lock?: LockState; local?: LocalState } = {}): Promise<DecideInput> {
  const view = groupOf(await s.store.loadCluster(), null);
  return input({
    now: s.clock.now(),
    view,
    config: s.config.bootstrap.dcs,
    self: { name: 'm1' },
    lock: spec.lock ?? { kind: 'notHeld' },
    local: spec.local ?? { kind: 'runningPrimary', systemId: SYSTEM, timeline: 1, walLsn: INITIAL_WAL },
  });
}

async function run(s: Setup, actions: Action[], spec: { lock?: LockState; local?: LocalState } = {}) {
  return s.executor.run(actions, await cycleInput(s, spec));
}

describe('lock actions', () => {
  test('acquireLock takes an absent leader key on the member lease and holds the lock from now', async () => {
    const s = setup();
    s.clock.advance(5000);
    const result = await run(s, [{ kind: 'acquireLock' }]);
    assert.deepEqual(result.lock, { kind: 'held', confirmedAt: s.clock.now() });
    assert.equal(result.failed, null);
    const leader = s.etcd.get('leader');
    assert.equal(leader?.value, 'm1');
    assert.equal(leader?.lease, s.store.lease);
  });

  test('acquireLock against another holder fails as LockLost: not held, and not an etcd error', async () => {
    const s = setup();
    s.etcd.put('leader', 'm2');
    const result = await run(s, [{ kind: 'acquireLock' }]);
    assert.deepEqual(result.lock, { kind: 'notHeld' });
    assert.equal(result.failed?.action.kind, 'acquireLock');
    assert.match(result.failed?.message ?? '', /held by another member/);
    assert.equal(result.dcsError, null);
    assert.equal(s.etcd.value('leader'), 'm2');
  });

  test('updateLock renews the lease, keeps the key and writes the optime', async () => {
    const s = setup();
    await run(s, [{ kind: 'acquireLock' }]);
    const lease = s.store.lease!;
    s.clock.advance(20_000);
    const result = await run(s, [{ kind: 'updateLock', optime: 0x2000000 }], {
      lock: { kind: 'held', confirmedAt: s.clock.now() - 20_000 },
    });
    assert.deepEqual(result.lock, { kind: 'held', confirmedAt: s.clock.now() });
    assert.equal(s.etcd.leaseExpiresAt(lease), s.clock.now() + 30_000);
    assert.deepEqual(s.etcd.json('status'), { optime: 0x2000000 });
    s.clock.advance(29_000);
    assert.equal(s.etcd.value('leader'), 'm1', 'the renewed lease keeps the key past the first ttl');
  });

  test('updateLock moves a key that names us on a lost lease onto the new one', async () => {
    const s = setup();
    await run(s, [{ kind: 'acquireLock' }]);
    const first = s.store.lease;
    s.store.reconfigure({ ttl: 20 });
    const result = await run(s, [{ kind: 'updateLock', optime: null }], { lock: { kind: 'held', confirmedAt: 0 } });
    assert.equal(result.lock.kind, 'held');
    assert.notEqual(s.store.lease, first);
    assert.equal(s.etcd.get('leader')?.lease, s.store.lease);
  });

  test('updateLock that finds the key gone or someone else in it loses the lock, whatever the input said', async () => {
    for (const holder of [null, 'm2']) {
      const s = setup();
      if (holder !== null) s.etcd.put('leader', holder);
      const result = await run(s, [{ kind: 'updateLock', optime: 5 }, { kind: 'touchMember' }], {
        lock: { kind: 'held', confirmedAt: 0 },
      });
      assert.deepEqual(result.lock, { kind: 'notHeld' });
      assert.equal(result.failed?.action.kind, 'updateLock');
      assert.equal(result.dcsError, null);
      assert.equal(s.etcd.get('status'), undefined, 'no optime written for a lock that is not ours');
      assert.equal(s.etcd.get('members/m1'), undefined, 'the list stopped at the failure');
    }
  });

  test('an etcd outage fails the action as an etcd error and leaves the lock as it was', async () => {
    const s = setup();
    await run(s, [{ kind: 'acquireLock' }]);
    const held: LockState = { kind: 'held', confirmedAt: s.clock.now() };
    const i = await cycleInput(s, { lock: held });
    s.etcd.startOutage('refused');
    const result = await s.executor.run([{ kind: 'updateLock', optime: null }], i);
    assert.deepEqual(result.lock, held);
    assert.equal(result.failed?.action.kind, 'updateLock');
    assert.match(result.dcsError ?? '', /unreachable/);
  });

  test('a timing-out etcd fails the call after retry_timeout of simulated time', async () => {
    const s = setup();
    const i = await cycleInput(s);
    s.etcd.startOutage('timeout');
    let result: Awaited<ReturnType<Executor['run']>> | null = null;
    void s.executor.run([{ kind: 'acquireLock' }], i).then((r) => (result = r));
    await elapse(s.clock, 9_999);
    assert.equal(result, null, 'still waiting for etcd');
    await elapse(s.clock, 1);
    assert.match(result!.dcsError ?? '', /unreachable/);
  });

  test('the first failure stops the list: no promote after a failed acquireLock', async () => {
    const s = setup();
    await running(s.clock, s.pg, 'replica');
    s.etcd.put('leader', 'm2');
    const result = await run(s, [{ kind: 'acquireLock' }, { kind: 'promote' }, { kind: 'touchMember' }]);
    assert.equal(result.failed?.action.kind, 'acquireLock');
    assert.ok(!s.pg.calls.includes('promote'));
    assert.equal(s.pg.role, 'replica');
    assert.ok(!s.store.calls.some((c) => c.startsWith('touchMember')));
  });

  test('releaseLock after a stop deletes our key and writes the shutdown checkpoint as optime', async () => {
    const s = setup();
    await running(s.clock, s.pg, 'primary');
    await run(s, [{ kind: 'acquireLock' }]);
    const result = await run(s, [{ kind: 'demote', mode: 'graceful' }, { kind: 'releaseLock' }], {
      lock: { kind: 'held', confirmedAt: s.clock.now() },
    });
    assert.equal(result.failed, null);
    assert.deepEqual(result.lock, { kind: 'notHeld' });
    assert.equal(s.etcd.get('leader'), undefined);
    assert.deepEqual(s.etcd.json('status'), { optime: s.pg.data?.checkpointLsn });
  });

  test("releaseLock leaves another member's key alone", async () => {
    const s = setup();
    s.etcd.put('leader', 'm2');
    const result = await run(s, [{ kind: 'releaseLock' }], { lock: { kind: 'held', confirmedAt: 0 } });
    assert.deepEqual(result.lock, { kind: 'notHeld' });
    assert.equal(s.etcd.value('leader'), 'm2');
  });
});

describe('releaseLock with a handover', () => {
  const answer = (walPosition: number): PeerPoll => ({
    answers: {
      m2: {
        kind: 'answered',
        role: 'replica',
        state: 'running',
        walPosition,
        timeline: 1,
        nofailover: false,
        failoverPriority: 1,
      },
    },
  });

  test('waits until the successor reports WAL past the shutdown checkpoint, then releases', async () => {
    const events: string[] = [];
    let checkpoint = 0;
    const s = setup({
      askPeers: async () => {
        events.push(`poll ${s.etcd.value('leader')}`);
        return answer(events.length < 3 ? checkpoint : checkpoint + 0x68);
      },
    });
    await running(s.clock, s.pg, 'primary');
    await run(s, [{ kind: 'acquireLock' }]);
    await s.pg.stop('fast');
    checkpoint = s.pg.data!.checkpointLsn;
    s.etcd.onChange((c) => c.name === 'leader' && events.push(`leader ${c.type}`));
    const result = await run(s, [{ kind: 'releaseLock', handover: { members: ['m2'], timeoutMs: 10_000 } }]);
    assert.equal(result.failed, null);
    assert.deepEqual(events, ['poll m1', 'poll m1', 'poll m1', 'leader delete']);
  });

  test('gives up at timeoutMs and releases anyway', async () => {
    let polls = 0;
    const s = setup({
      askPeers: async (_view, _members, timeoutMs) => {
        polls++;
        assert.ok(timeoutMs !== undefined && timeoutMs >= 200 && timeoutMs <= 1000);
        // Each poll takes simulated time, as a slow peer would.
        s.clock.advance(400);
        return answer(0);
      },
    });
    await running(s.clock, s.pg, 'primary');
    await run(s, [{ kind: 'acquireLock' }]);
    await s.pg.stop('fast');
    const started = s.clock.now();
    const result = await run(s, [{ kind: 'releaseLock', handover: { members: ['m2'], timeoutMs: 1000 } }]);
    assert.equal(result.failed, null);
    assert.equal(polls, 3, 'polls at +0, +400 and +800 ms; the deadline passed after the third');
    assert.equal(s.clock.now() - started, 1200);
    assert.equal(s.etcd.get('leader'), undefined);
  });

  test('no wait while PostgreSQL still runs: there is no shutdown checkpoint to hand over', async () => {
    let polls = 0;
    const s = setup({ askPeers: async () => (polls++, answer(0)) });
    await running(s.clock, s.pg, 'primary');
    await run(s, [{ kind: 'acquireLock' }]);
    await run(s, [{ kind: 'releaseLock', handover: { members: ['m2'], timeoutMs: 1000 } }]);
    assert.equal(polls, 0);
    assert.equal(s.etcd.get('leader'), undefined);
    assert.equal(s.etcd.get('status'), undefined);
  });
});

describe('PostgreSQL actions', () => {
  test('promote promotes, renders the primary configuration and reloads', async () => {
    const s = setup();
    await running(s.clock, s.pg, 'replica');
    const result = await run(s, [{ kind: 'promote' }]);
    assert.equal(result.failed, null);
    assert.ok(s.pg.writable);
    assert.equal(s.pg.data?.timeline, 2);
    assert.deepEqual(s.pg.calls.slice(-3), ['promote', 'writeConfig primary', 'reload']);
  });

  test('pre_promote: its approval, then a check of the key, come before the promotion', async () => {
    const asked: Array<[string[], number]> = [];
    const s = setup({
      runFencing: (command, timeoutMs) => {
        asked.push([command, timeoutMs]);
        // The key is ours when the command is asked, so nothing but the command stands between.
        assert.equal(s.etcd.value('leader'), 'm1');
        assert.ok(!s.pg.calls.includes('promote'));
        return Promise.resolve({ ok: true });
      },
    });
    s.config.postgresql.pre_promote = ['/usr/local/bin/fence', 'old-primary'];
    await running(s.clock, s.pg, 'replica');
    const result = await run(s, [{ kind: 'acquireLock' }, { kind: 'promote' }]);
    assert.equal(result.failed, null);
    assert.deepEqual(asked, [[['/usr/local/bin/fence', 'old-primary'], 30_000]], 'run once, bounded by ttl');
    assert.ok(s.pg.writable);
    assert.equal(result.promotionRefused, false);
  });

  test('pre_promote refuses: no promotion, the leader key given back, the refusal reported', async () => {
    const s = setup({ runFencing: () => Promise.resolve({ ok: false, reason: 'exited with 3' }) });
    s.config.postgresql.pre_promote = ['/usr/local/bin/fence'];
    await running(s.clock, s.pg, 'replica');
    const result = await run(s, [{ kind: 'acquireLock' }, { kind: 'promote' }, { kind: 'touchMember' }]);
    assert.equal(result.failed?.action.kind, 'promote');
    assert.match(result.failed?.message ?? '', /pre_promote exited with 3: not promoting; the leader key is released/);
    assert.equal(result.promotionRefused, true);
    assert.deepEqual(result.lock, { kind: 'notHeld' });
    assert.equal(s.etcd.get('leader'), undefined);
    assert.ok(!s.pg.calls.includes('promote'));
    assert.equal(s.pg.writable, false);
  });

  test('pre_promote approves after the key was lost meanwhile: no promotion', async () => {
    const s = setup({
      runFencing: () => {
        s.etcd.put('leader', 'm2');
        return Promise.resolve({ ok: true });
      },
    });
    s.config.postgresql.pre_promote = ['/usr/local/bin/fence'];
    await running(s.clock, s.pg, 'replica');
    const result = await run(s, [{ kind: 'acquireLock' }, { kind: 'promote' }]);
    assert.match(result.failed?.message ?? '', /the leader key was lost while pre_promote ran/);
    assert.deepEqual(result.lock, { kind: 'notHeld' });
    assert.equal(result.promotionRefused, false);
    assert.ok(!s.pg.calls.includes('promote'));
    assert.equal(s.etcd.value('leader'), 'm2');
  });

  test('a graceful demote checkpoints, runs the before-demote hook, stops fast and marks standby', async () => {
    const s = setup();
    await running(s.clock, s.pg, 'primary');
    const result = await run(s, [{ kind: 'demote', mode: 'graceful' }]);
    assert.equal(result.failed, null);
    assert.deepEqual(s.pg.calls.slice(-3), ['checkpoint', 'stop fast', 'markStandby']);
    assert.equal(s.demoteHooks, 1);
    assert.equal(s.pg.data?.state, 'shut down');
    assert.equal(s.pg.data?.standbySignal, true, 'no later start comes up writable');
  });

  test('an offline demote only stops fast and marks standby; an immediate one stops immediately', async () => {
    for (const [mode, stop] of [
      ['offline', 'stop fast'],
      ['immediate', 'stop immediate'],
    ] as const) {
      const s = setup();
      await running(s.clock, s.pg, 'primary');
      await run(s, [{ kind: 'demote', mode }]);
      assert.deepEqual(s.pg.calls.slice(-2), [stop, 'markStandby']);
      assert.equal(s.demoteHooks, 0);
    }
  });

  test('follow points a running replica at the leader and reloads only when the configuration changed', async () => {
    const s = setup();
    await running(s.clock, s.pg, 'replica');
    await run(s, [{ kind: 'follow', leader: 'm2' }]);
    assert.deepEqual(s.pg.calls.slice(-2), ['writeConfig replica 10.0.0.2:5432', 'reload']);
    assert.deepEqual(s.pg.upstream, { host: '10.0.0.2', port: 5432 });
    await run(s, [{ kind: 'follow', leader: 'm2' }]);
    assert.equal(s.pg.calls.at(-1), 'writeConfig replica 10.0.0.2:5432', 'unchanged: no reload');
  });

  test('startPostgres renders for its role and starts in the background; the tracker shows the start', async () => {
    const s = setup({ delays: { start: () => 2000 } });
    s.pg.seed(data({ standbySignal: true }));
    s.etcd.put('leader', 'm2');
    const result = await run(s, [{ kind: 'startPostgres', as: 'replica' }]);
    assert.equal(result.failed, null);
    assert.equal(result.started, null, 'a start is not a long task');
    assert.deepEqual(s.pg.calls.slice(-2), ['writeConfig replica 10.0.0.2:5432', 'start']);
    assert.equal(s.tracker.starting, true);
    assert.equal(s.tracker.start?.as, 'replica');
    await elapse(s.clock, 2000);
    assert.equal(s.tracker.starting, false);
    assert.equal(s.pg.role, 'replica');
    assert.deepEqual(s.wakes, ['postgres start settled']);
  });

  test('a start that exits is remembered as a failed start and does not wake the loop', async () => {
    const s = setup();
    s.pg.seed(data());
    s.pg.failNext('start', 'FATAL: could not bind');
    await run(s, [{ kind: 'startPostgres', as: 'primary' }]);
    await settle();
    assert.equal(s.tracker.starting, false);
    assert.match(s.tracker.startFailed?.message ?? '', /could not bind/);
    assert.deepEqual(s.wakes, []);
  });

  test('restartInPlace starts as it was, without rendering the configuration', async () => {
    const s = setup({ delays: { start: () => 500 } });
    s.pg.seed(data({ state: 'in production' }));
    await run(s, [{ kind: 'restartInPlace', as: 'primary' }]);
    assert.deepEqual(s.pg.calls, ['start']);
    assert.equal(s.tracker.start?.as, 'primary');
    assert.equal(s.tracker.starting, true);
    await elapse(s.clock, 500);
    assert.ok(s.pg.writable);
  });

  test('stopPostgres stops in the given mode', async () => {
    const s = setup();
    await running(s.clock, s.pg, 'replica');
    await run(s, [{ kind: 'stopPostgres', mode: 'immediate' }]);
    assert.equal(s.pg.calls.at(-1), 'stop immediate');
    assert.equal(s.pg.isRunning, false);
    assert.equal(s.pg.data?.state, 'in archive recovery', 'an immediate stop is not clean');
  });
});

describe('long tasks', () => {
  test('restart {role} runs in the background: busy while it runs, the outcome in started', async () => {
    const s = setup({ delays: { stop: () => 300, start: () => 700 } });
    await running(s.clock, s.pg, 'primary');
    const result = await run(s, [{ kind: 'restart', role: 'primary' }]);
    assert.equal(result.failed, null);
    assert.equal(result.started?.task, 'restart');
    assert.deepEqual(s.tracker.task, { task: 'restart', since: s.clock.now(), role: 'primary' });
    let outcome = 'pending';
    result.started!.outcome.then(() => (outcome = 'done'));
    await elapse(s.clock, 999);
    assert.equal(outcome, 'pending');
    assert.ok(s.tracker.task !== null);
    await elapse(s.clock, 1);
    assert.equal(outcome, 'done');
    assert.equal(s.tracker.task, null);
    assert.deepEqual(s.pg.calls.slice(-3), ['checkpoint', 'stop fast', 'start']);
    assert.equal(s.demoteHooks, 1);
    assert.deepEqual(s.wakes, ['restart ended']);
    assert.equal(s.tracker.takeTaskFailure(), null);
  });

  test('a replica restart skips the checkpoint and the hook', async () => {
    const s = setup();
    await running(s.clock, s.pg, 'replica');
    const result = await run(s, [{ kind: 'restart', role: 'replica' }]);
    await result.started!.outcome;
    assert.deepEqual(s.pg.calls.slice(-2), ['stop fast', 'start']);
    assert.equal(s.demoteHooks, 0);
    assert.equal(s.pg.role, 'replica');
  });

  test('a failed background task rejects its outcome and is reported once through the tracker', async () => {
    const s = setup({ delays: { clone: () => 1000 } });
    // m2 publishes a conn_url but its PostgreSQL is not running: pg_basebackup cannot connect.
    const result = await run(s, [{ kind: 'clone', from: 'm2' }], { local: { kind: 'noData' } });
    assert.equal(result.failed, null, 'the cycle itself did not fail');
    assert.equal(result.started?.task, 'clone');
    assert.equal(s.tracker.task?.task, 'clone');
    const rejected = assert.rejects(result.started!.outcome, /pg_basebackup: could not connect to 10.0.0.2:5432/);
    await elapse(s.clock, 1000);
    await rejected;
    assert.equal(s.tracker.task, null);
    const failure = s.tracker.takeTaskFailure();
    assert.equal(failure?.action.kind, 'clone');
    assert.match(failure?.message ?? '', /pg_basebackup/);
    assert.equal(s.tracker.takeTaskFailure(), null, 'reported once');
    assert.deepEqual(s.wakes, [], 'a failure is retried at the normal pace');
  });

  test('clone copies the source and renders a replica of the leader', async () => {
    const s = setup();
    await running(s.clock, s.peer, 'primary');
    s.etcd.put('leader', 'm2');
    const result = await run(s, [{ kind: 'clone', from: 'm2' }], { local: { kind: 'noData' } });
    await result.started!.outcome;
    assert.equal(s.pg.data?.systemId, SYSTEM);
    assert.equal(s.pg.data?.standbySignal, true);
    assert.deepEqual(s.pg.target?.upstream, { host: '10.0.0.2', port: 5432 });
    assert.equal(s.pg.target?.slotName, 'm1', 'use_slots: the slot named after this member');
  });

  test('a second long task while one runs fails the action', async () => {
    const s = setup({ delays: { clone: () => 1000 } });
    await run(s, [{ kind: 'clone', from: 'm2' }], { local: { kind: 'noData' } });
    const result = await run(s, [{ kind: 'reinitialize', from: 'm2' }], { local: { kind: 'noData' } });
    assert.equal(result.failed?.action.kind, 'reinitialize');
    assert.match(result.failed?.message ?? '', /clone is already running/);
    assert.equal(result.started, null);
  });

  test('rewind from the leader: a failed pg_rewind fails the task', async () => {
    const s = setup();
    await running(s.clock, s.pg, 'primary');
    // The peer is not running: pg_rewind cannot connect.
    const result = await run(s, [{ kind: 'rewind', from: 'm2' }]);
    await assert.rejects(result.started!.outcome, /pg_rewind: could not connect/);
    assert.equal(s.pg.isRunning, false, 'stopped first');
    assert.equal(s.tracker.takeTaskFailure()?.action.kind, 'rewind');
  });

  test('bootstrap wins the initialize race, then initdb, config, the system id and the leader key', async () => {
    const s = setup({ delays: { bootstrap: () => 3000 } });
    s.etcd.delete('initialize');
    const result = await run(s, [{ kind: 'bootstrap' }], { local: { kind: 'noData' } });
    assert.equal(result.started?.task, 'bootstrap');
    assert.equal(s.etcd.value('initialize'), '', 'claimed while initdb runs');
    await elapse(s.clock, 3000);
    await result.started!.outcome;
    assert.equal(s.etcd.value('initialize'), s.pg.data?.systemId);
    assert.equal((s.etcd.json('config') as { ttl: number }).ttl, 30);
    assert.equal(s.etcd.value('leader'), 'm1');
    assert.equal(s.tracker.takeAcquiredLock(), s.clock.now(), 'the loop adopts the lock the task took');
    assert.ok(s.pg.writable);
  });

  test('bootstrap that lost the initialize race fails without starting anything', async () => {
    const s = setup();
    const result = await run(s, [{ kind: 'bootstrap' }], { local: { kind: 'noData' } });
    assert.match(result.failed?.message ?? '', /lost the initialize race/);
    assert.equal(result.started, null);
    assert.deepEqual(s.pg.calls, []);
  });

  test('a failed bootstrap gives the initialize key back and removes the data directory', async () => {
    const s = setup();
    s.etcd.delete('initialize');
    s.pg.failNext('bootstrap', 'initdb: out of disk');
    const result = await run(s, [{ kind: 'bootstrap' }], { local: { kind: 'noData' } });
    await assert.rejects(result.started!.outcome, /out of disk/);
    assert.equal(s.etcd.get('initialize'), undefined);
    assert.ok(s.pg.calls.includes('removeData'));
  });
});

describe('keys of the group', () => {
  test('touchMember renews the lease, then writes the member key as it is after the earlier actions', async () => {
    const s = setup();
    await running(s.clock, s.pg, 'primary');
    const result = await run(s, [
      { kind: 'acquireLock' },
      { kind: 'demote', mode: 'graceful' },
      { kind: 'touchMember' },
    ]);
    assert.equal(result.failed, null);
    const calls = s.store.calls.filter((c) => !c.startsWith('loadCluster'));
    assert.deepEqual(calls.slice(-2), ['refreshLease', 'touchMember m1']);
    const key = s.etcd.get('members/m1');
    assert.equal(key?.lease, s.store.lease);
    const member = s.etcd.json('members/m1') as Record<string, unknown>;
    assert.equal(member.state, 'stopped', 'the stop of this cycle shows');
    assert.equal(member.role, 'primary', 'a stopped former primary holding the lock');
    assert.equal(member.conn_url, 'postgres://10.0.0.1:5432/postgres');
  });

  test('writeHistory replaces the line of the same timeline; clearFailover writes {}', async () => {
    const s = setup();
    s.etcd.put(
      'history',
      JSON.stringify([
        [1, 100, 'old'],
        [2, 200, 'first try'],
      ]),
    );
    s.etcd.put('failover', JSON.stringify({ leader: 'm2', member: 'm1' }));
    await run(s, [{ kind: 'writeHistory', entry: [2, 250, 'retried'] }, { kind: 'clearFailover' }]);
    assert.deepEqual(s.etcd.json('history'), [
      [1, 100, 'old'],
      [2, 250, 'retried'],
    ]);
    assert.deepEqual(s.etcd.json('failover'), {});
  });

  test('claimInitialize writes the system id only when the key is absent', async () => {
    const s = setup();
    const taken = await run(s, [{ kind: 'claimInitialize', systemId: '42' }]);
    assert.match(taken.failed?.message ?? '', /initialize key exists already/);
    s.etcd.delete('initialize');
    const claimed = await run(s, [{ kind: 'claimInitialize', systemId: '42' }]);
    assert.equal(claimed.failed, null);
    assert.equal(s.etcd.value('initialize'), '42');
  });
});
