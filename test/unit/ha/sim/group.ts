// The group simulator: the members of one group, each a real HaLoop on fakes that share one
// FakeEtcd, one PgNetwork and one FakeClock, driven one step at a time by a seeded scheduler. A
// step starts the cycle of one member that is due (chosen at random among those due) or moves
// the clock to the next thing that happens (a timer of the fakes or a member's next cycle); then
// promise continuations run, and the group's invariants are checked. Etcd calls, PostgreSQL's
// starts, stops, promotions and clones, replication pulls and the loops' naps all take random
// simulated time, so the seed decides how the members' cycles interleave. The same seed replays
// the same run; a failure names its seed and ends with the trace of the run.
import { successorPast } from '../../../../src/ha/peers.ts';
import type { PeerAsker } from '../../../../src/ha/ports.ts';
import { nextNapMs } from '../../../../src/ha/schedule.ts';
import { settle, T0 } from '../fakes/clock.ts';
import { recordingLogger } from '../fakes/log.ts';
import { answerPoll } from '../fakes/peers.ts';
import { FakeWorld, type FakeMember } from '../fakes/world.ts';
import { Rng } from './rng.ts';

export interface SimOptions {
  seed: number;
  /** Member names; m1, m2, m3 by default. */
  names?: string[];
  /** `bootstrap.dcs` over the members' defaults (ttl 30, loop_wait 10, retry_timeout 10). */
  dcs?: Record<string, unknown>;
  /** More steps than this is a failure: a run must end. */
  maxSteps?: number;
}

/** A member with what the scheduler knows of it. */
export interface SimMember {
  readonly name: string;
  readonly fake: FakeMember;
  /** A cycle is under way. */
  running: boolean;
  /** When the next cycle starts (the loop's nap after the last one, cut short by a wake-up). */
  dueAt: number;
  /** Woken while a cycle ran: the next one follows after the shortest nap. */
  woken: boolean;
  cycles: number;
  /** The last handover poll found no successor past the shutdown checkpoint (see settle). */
  handoverWaiting: boolean;
  handoverPolls: number;
  /** The member's last log line, so that a quiet loop does not fill the trace. */
  lastLine: string;
}

export class SimFailure extends Error {
  override readonly name = 'SimFailure';
}

export interface TraceLine {
  at: number;
  who: string;
  text: string;
}

/** Keys whose changes go into the trace (member keys and status change every cycle). */
const TRACED_KEYS = new Set(['leader', 'initialize', 'failover', 'history', 'config']);

export class SimGroup {
  readonly world: FakeWorld;
  readonly rng: Rng;
  readonly members: SimMember[] = [];
  readonly trace: TraceLine[] = [];
  /** Checks run after every step besides the group's invariants; they throw (fail) to stop the run. */
  readonly probes: (() => void)[] = [];
  steps = 0;
  /** Steps that waited for a handover's next poll (it sleeps on a real timer between polls). */
  handoverWaits = 0;
  private readonly maxSteps: number;

  private constructor(readonly options: SimOptions) {
    this.rng = new Rng(options.seed);
    this.world = new FakeWorld();
    this.maxSteps = options.maxSteps ?? 50_000;
    this.world.etcd.onChange((change) => {
      if (change.cause === 'lease expired') this.note('etcd', `${change.name} expired`);
      else if (TRACED_KEYS.has(change.name)) this.note('etcd', `${change.type} ${change.name} ${change.value ?? ''}`);
    });
  }

  /** Builds the group (no data anywhere, empty etcd), attaches every loop and spreads the first cycles. */
  static async start(options: SimOptions): Promise<SimGroup> {
    const sim = new SimGroup(options);
    for (const name of options.names ?? ['m1', 'm2', 'm3']) sim.addMember(name);
    for (const m of sim.members) {
      await m.fake.loop.attach();
      m.dueAt = sim.now + sim.rng.int(0, 2000);
    }
    await settle();
    return sim;
  }

  get now(): number {
    return this.world.clock.now();
  }

  /** Seconds since the run began, for messages. */
  get elapsed(): string {
    return `${((this.now - T0) / 1000).toFixed(3)}s`;
  }

  member(name: string): SimMember {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  }

  // ---- faults and operators ---------------------------------------------------------------

  /**
   * The member's agent dies (kill -9) and does not come back; with `postgres` its PostgreSQL dies
   * with it, otherwise the postmaster keeps running and only the fence, which outlives the agent as
   * the software watchdog does, can stop it.
   */
  kill(name: string, what: { postgres: boolean } = { postgres: true }): void {
    const { fake } = this.member(name);
    this.note('sim', `kill ${name} (${what.postgres ? 'agent and PostgreSQL' : 'agent only'})`);
    fake.down = true;
    fake.store.kill();
    fake.pg.cutOff();
    if (what.postgres) fake.pg.crash();
  }

  /** The member's postmaster dies (kill -9); its agent lives on. */
  crashPostgres(name: string): void {
    this.note('sim', `crash PostgreSQL of ${name}`);
    this.member(name).fake.pg.crash();
  }

  startOutage(kind: 'refused' | 'timeout'): void {
    this.note('sim', `etcd unreachable (${kind})`);
    this.world.etcd.startOutage(kind);
  }

  endOutage(): void {
    this.note('sim', 'etcd reachable again');
    this.world.etcd.endOutage();
  }

  /** An operator writes a key directly (patronictl does the same). */
  putKey(name: string, value: unknown): void {
    this.world.etcd.put(name, JSON.stringify(value));
  }

  // ---- what the group looks like ------------------------------------------------------------

  /** The leader key's holder when it is alive and runs a writable primary. */
  leading(): string | null {
    const leader = this.world.etcd.value('leader');
    if (leader === null) return null;
    const m = this.members.find((x) => x.name === leader);
    return m !== undefined && !m.fake.down && m.fake.pg.writable ? leader : null;
  }

  /** One leader running a writable primary, every other live member a replica streaming from it. */
  stable(): string | null {
    const leader = this.leading();
    if (leader === null) return null;
    const address = this.member(leader).fake.pg.address;
    for (const m of this.members) {
      if (m.name === leader || m.fake.down) continue;
      const pg = m.fake.pg;
      if (pg.role !== 'replica' || !pg.streaming) return null;
      if (pg.upstream?.host !== address.host || pg.upstream.port !== address.port) return null;
    }
    return leader;
  }

  writablePrimaries(): string[] {
    return this.members.filter((m) => m.fake.pg.writable).map((m) => m.name);
  }

  // ---- running ----------------------------------------------------------------------------------

  /** Steps until `done()` holds; a failure when `withinMs` of simulated time pass first. */
  async runUntil(done: () => boolean, withinMs: number, what: string): Promise<void> {
    const deadline = this.now + withinMs;
    while (!done()) {
      if (this.now > deadline) this.fail(`${what}: not reached within ${withinMs / 1000}s`);
      await this.step();
    }
  }

  /** Steps until `ms` of simulated time have passed. */
  async runFor(ms: number): Promise<void> {
    const end = this.now + ms;
    while (this.now < end) await this.step();
  }

  async step(): Promise<void> {
    if (++this.steps > this.maxSteps) this.fail(`more than ${this.maxSteps} steps`);
    const due = this.members.filter((m) => !m.fake.down && !m.running && m.dueAt <= this.now);
    if (due.length > 0) {
      this.startCycle(this.rng.pick(due));
    } else {
      const times = this.members.filter((m) => !m.fake.down && !m.running).map((m) => m.dueAt);
      const timer = this.world.clock.nextTimerAt();
      if (timer !== null) times.push(timer);
      if (times.length === 0) this.fail('nothing left that could happen');
      this.world.clock.advanceTo(Math.min(...times));
    }
    await this.settle();
    this.check();
  }

  /** The group's invariants, then the scenario's probes. */
  check(): void {
    const writable = this.writablePrimaries();
    if (writable.length > 1) this.fail(`two writable primaries: ${writable.join(', ')}`);
    const leader = this.world.etcd.value('leader');
    if (leader !== null && !this.members.some((m) => m.name === leader)) {
      this.fail(`the leader key names ${JSON.stringify(leader)}, which is not a member`);
    }
    for (const probe of this.probes) probe();
  }

  fail(message: string): never {
    const tail = this.trace.slice(-80).map(traceText).join('\n');
    throw new SimFailure(
      `seed ${this.options.seed} at ${this.elapsed} (step ${this.steps}): ${message}\n` +
        `replay: SIM_SEED=${this.options.seed} node --import tsx --test test/unit/ha/simulator.test.ts\n` +
        `last trace lines:\n${tail}`,
    );
  }

  note(who: string, text: string): void {
    this.trace.push({ at: this.now, who, text });
  }

  traceText(): string {
    return this.trace.map(traceText).join('\n');
  }

  // ---- internals ------------------------------------------------------------------------------

  private addMember(name: string): void {
    const rng = this.rng;
    const between = (lo: number, hi: number) => () => rng.int(lo, hi);
    // The member's scheduling state, once it exists (the hooks below run only after that).
    const sim = (): SimMember => this.member(name);
    const askPeers: PeerAsker = (_view, names, timeoutMs) => {
      const poll = answerPoll(this.world.members, names);
      if (timeoutMs !== undefined) {
        // Only a switchover's handover passes a timeout; between its polls it sleeps on a real
        // timer, which settle() waits for so that each step sees exactly one poll.
        const m = sim();
        m.handoverPolls++;
        const checkpoint = m.fake.pg.data?.checkpointLsn;
        m.handoverWaiting = checkpoint !== undefined && successorPast(poll, names, checkpoint) === undefined;
      }
      return Promise.resolve(poll);
    };
    const fake = this.world.add({
      name,
      dcs: this.options.dcs,
      askPeers,
      enforcingFence: true,
      log: recordingLogger((line) => {
        const m = sim();
        if (line.msg === 'cycle woken') return this.woken(m);
        // Quiet cycles repeat themselves: each member's same line is traced once in a row.
        const text = describeLine(line.msg, line.fields);
        if (text !== m.lastLine) this.note(name, text);
        m.lastLine = text;
      }),
      store: { latency: () => (rng.chance(0.7) ? rng.int(0, 3) : rng.int(4, 40)) },
      postgres: {
        walBytesPerSecond: 8192 * rng.int(1, 8),
        streamIntervalMs: between(50, 800),
        delays: {
          start: between(200, 1500),
          stop: between(20, 400),
          promote: between(50, 600),
          bootstrap: between(1000, 4000),
          clone: between(500, 3000),
          rewind: between(200, 1500),
        },
      },
    });
    const member: SimMember = {
      name,
      fake,
      running: false,
      dueAt: this.now,
      woken: false,
      cycles: 0,
      handoverWaiting: false,
      handoverPolls: 0,
      lastLine: '',
    };
    const activity = () => (member.handoverWaiting = false);
    fake.store.onCall(activity);
    fake.pg.onCall(activity);
    this.members.push(member);
  }

  /** The loop's wake(): cuts a nap short, or makes the nap after the running cycle the shortest. */
  private woken(m: SimMember): void {
    if (m.running) m.woken = true;
    else m.dueAt = Math.min(m.dueAt, this.now);
  }

  private startCycle(m: SimMember): void {
    m.running = true;
    m.woken = false;
    m.cycles++;
    const started = this.now;
    const loop = m.fake.loop;
    void loop.runCycle().then((report) => {
      m.running = false;
      // As HaLoop.run() computes its nap; a decision may ask to look again sooner.
      const decision: { reason: string; recheckMs?: number | null } | null = report.decision;
      const nap = nextNapMs({
        hurry: report.hurry,
        woken: m.woken,
        elapsedMs: this.now - started,
        loopWaitSeconds: loop.snapshot().dynamic.loop_wait,
        untilScheduledMs: null,
        ...{ recheckMs: decision?.recheckMs ?? null },
      });
      m.woken = false;
      // The scheduler of a busy host is never exact.
      m.dueAt = this.now + nap + this.rng.int(0, 30);
    });
  }

  /**
   * Lets promise continuations run. A handover that found no successor past the checkpoint sleeps
   * on a real timer before its next poll; the step waits for that poll (or for the cycle to move
   * on) so that every step sees exactly one, whatever the machine's speed.
   */
  private async settle(): Promise<void> {
    await settle();
    const waiting = this.members.find((m) => m.running && m.handoverWaiting);
    if (waiting === undefined) return;
    this.handoverWaits++;
    const polls = waiting.handoverPolls;
    const guard = Date.now() + 5000;
    while (waiting.running && waiting.handoverWaiting && waiting.handoverPolls === polls) {
      if (Date.now() > guard) this.fail(`${waiting.name}: the handover neither polled again nor went on`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await settle();
  }
}

function traceText(line: TraceLine): string {
  return `${((line.at - T0) / 1000).toFixed(3)}s ${line.who}: ${line.text}`;
}

function describeLine(msg: string, fields: Record<string, unknown>): string {
  const extra = ['action', 'err', 'reason']
    .filter((k) => fields[k] !== undefined && !(k === 'reason' && fields[k] === msg))
    .map((k) => `${k}=${String(fields[k])}`);
  return extra.length > 0 ? `${msg} [${extra.join(' ')}]` : msg;
}
