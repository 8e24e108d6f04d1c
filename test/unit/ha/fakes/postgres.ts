// An in-memory PostgreSQL behind the HA loop's LocalPostgres: a data directory (system id,
// timeline with its history, WAL end, control state, standby.signal), a postmaster that runs as
// primary or replica, WAL that grows while it runs as primary, and replication between the fakes
// of one PgNetwork: a replica pulls WAL from the member its running configuration names while
// both run and their histories agree, and a primary's clean stop hands its shutdown checkpoint to
// the replicas streaming from it, as real walsenders do. Long operations take simulated time on
// the FakeClock when given delays. Every call that changes something is recorded.
import type { DynamicConfig, HostPort } from '../../../../src/config/types.ts';
import { PostgresError } from '../../../../src/errors.ts';
import type { LocalPostgres } from '../../../../src/ha/ports.ts';
import type { ControlData } from '../../../../src/postgres/controlData.ts';
import type { DataDirState } from '../../../../src/postgres/dataDir.ts';
import type { ReplicaTarget } from '../../../../src/postgres/node.ts';
import type { PostmasterExit, StartResult, StopMode } from '../../../../src/postgres/process.ts';
import type { PgStatus, ReplicaConnection } from '../../../../src/postgres/queries.ts';
import type { RewindResult } from '../../../../src/postgres/rewind.ts';
import type { SlotSyncResult } from '../../../../src/postgres/slots.ts';
import type { FakeClock, FakeTimer } from './clock.ts';

export type ControlState = 'in production' | 'shut down' | 'shut down in recovery' | 'in archive recovery';

/** What a data directory holds, as far as the HA loop can tell. */
export interface FakeData {
  systemId: string;
  timeline: number;
  /** The switch points that led to `timeline`: [old timeline, LSN], as in a .history file. */
  history: [number, number][];
  /**
   * The newest timeline whose history file the directory holds: a promotion picks the next one, as
   * PostgreSQL does (a walreceiver fetches the upstream's history files as it connects).
   */
  newestTimeline: number;
  /** End of the WAL on disk (a running primary's insert position is computed from it). */
  walEnd: number;
  checkpointLsn: number;
  state: ControlState;
  standbySignal: boolean;
}

/** Operations that may take simulated time. */
export type PgTask = 'start' | 'stop' | 'promote' | 'bootstrap' | 'clone' | 'rewind';

/** Operations a test can make fail once. */
export type PgFailure = PgTask | 'writeConfig' | 'checkpoint';

interface Postmaster {
  pid: number;
  role: 'primary' | 'replica';
  /** Accepting connections. */
  ready: boolean;
  /** What a replica streams from (its configuration as of start or the last reload). */
  upstream: HostPort | null;
  /** pg_last_wal_receive_lsn(): null until something was streamed since the start. */
  receivedLsn: number | null;
  /** The WAL receiver is connected (as of the last pull). */
  streaming: boolean;
  pullTimer: FakeTimer | null;
  /** A primary's WAL grows from `data.walEnd` as of this time. */
  walSince: number;
}

/** What an upstream offers a replica: its WAL end and the history that leads there. */
interface WalOffer {
  position: number;
  timeline: number;
  history: [number, number][];
}

/** Bytes of a shutdown checkpoint record. */
export const CHECKPOINT_RECORD_BYTES = 0x68;
/** Where initdb leaves WAL. */
export const INITIAL_WAL = 0x1000000;

/** A data directory as initdb leaves it: timeline 1, shut down at INITIAL_WAL, no standby.signal. */
export function initdbData(systemId: string, over: Partial<FakeData> = {}): FakeData {
  return {
    systemId,
    timeline: 1,
    history: [],
    newestTimeline: 1,
    walEnd: INITIAL_WAL,
    checkpointLsn: INITIAL_WAL,
    state: 'shut down',
    standbySignal: false,
    ...over,
  };
}

export function addressText(address: HostPort | null): string {
  return address === null ? 'none' : `${address.host}:${address.port}`;
}

/** The fakes of one group, reachable by their addresses; hands out system ids and pids. */
export class PgNetwork {
  private readonly nodes = new Map<string, FakePostgres>();
  private systemIds = 0;
  private pids = 1000;

  register(node: FakePostgres): void {
    this.nodes.set(addressText(node.address), node);
  }

  lookup(address: HostPort | null): FakePostgres | undefined {
    return address === null ? undefined : this.nodes.get(addressText(address));
  }

  all(): FakePostgres[] {
    return [...this.nodes.values()];
  }

  newSystemId(): string {
    return String(7300000000000000001n + BigInt(this.systemIds++));
  }

  newPid(): number {
    return this.pids++;
  }
}

export interface FakePostgresOptions {
  name: string;
  address: HostPort;
  clock: FakeClock;
  network: PgNetwork;
  dataDir?: string;
  /** WAL a primary writes per simulated second. */
  walBytesPerSecond?: number;
  /** Simulated milliseconds between two WAL pulls of a replica. */
  streamIntervalMs?: () => number;
  /** Simulated milliseconds an operation takes; 0 when absent. */
  delays?: Partial<Record<PgTask, () => number>>;
}

export class FakePostgres implements LocalPostgres {
  readonly name: string;
  readonly address: HostPort;
  readonly dataDir: string;
  /** Calls that change something, in order: `start`, `stop fast`, `writeConfig replica 10.0.0.1:5432`, ... */
  readonly calls: string[] = [];
  /** Every promotion: when, to which timeline, at which WAL position. */
  readonly promotions: { at: number; timeline: number; lsn: number }[] = [];
  /** pg_settings.pending_restart, as the loop reads it. */
  pendingRestartFlag = false;
  private dataDirectory: FakeData | null = null;
  private removed = false;
  private proc: Postmaster | null = null;
  private configTarget: ReplicaTarget | null = null;
  /** synchronous_standby_names in force, and whether the HA loop set it since the last start or promotion. */
  private ssn = '';
  private ssnManaged = false;
  private readonly exitListeners: ((exit: PostmasterExit) => void)[] = [];
  private readonly callListeners = new Set<(what: string) => void>();
  private readonly failures = new Map<PgFailure, string>();
  private dead = false;
  private readonly clock: FakeClock;
  private readonly network: PgNetwork;
  private readonly walRate: number;
  private readonly streamInterval: () => number;
  private readonly delays: Partial<Record<PgTask, () => number>>;

  constructor(options: FakePostgresOptions) {
    this.name = options.name;
    this.address = options.address;
    this.dataDir = options.dataDir ?? `/fake/${options.name}/data`;
    this.clock = options.clock;
    this.network = options.network;
    this.walRate = options.walBytesPerSecond ?? 16 * 1024;
    this.streamInterval = options.streamIntervalMs ?? (() => 100);
    this.delays = options.delays ?? {};
    this.network.register(this);
  }

  // ---- what tests and the simulator look at ------------------------------------------------

  get data(): Readonly<FakeData> | null {
    return this.dataDirectory;
  }

  /** Running as a primary that accepts connections: it takes writes. */
  get writable(): boolean {
    return this.proc !== null && this.proc.ready && this.proc.role === 'primary';
  }

  /** The role the postmaster runs in; null when none runs. */
  get role(): 'primary' | 'replica' | null {
    return this.proc?.role ?? null;
  }

  get ready(): boolean {
    return this.proc?.ready ?? false;
  }

  /** What a running replica streams from. */
  get upstream(): HostPort | null {
    return this.proc?.upstream ?? null;
  }

  /** A running replica's WAL receiver is connected to a live, compatible upstream now. */
  get streaming(): boolean {
    const proc = this.proc;
    if (proc === null || !proc.ready || proc.role !== 'replica' || !proc.streaming) return false;
    return this.network.lookup(proc.upstream)?.offerTo(this) != null;
  }

  get receivedLsn(): number | null {
    return this.proc?.receivedLsn ?? null;
  }

  /** A primary's insert position, a replica's or a stopped directory's WAL end. */
  walPosition(): number {
    const data = this.dataDirectory;
    if (data === null) return 0;
    const proc = this.proc;
    if (proc === null || !proc.ready || proc.role !== 'primary') return data.walEnd;
    return data.walEnd + Math.floor((this.walRate * (this.clock.now() - proc.walSince)) / 1000);
  }

  /** The next call of `op` fails with `message`. */
  failNext(op: PgFailure, message = `${op} failed`): void {
    this.failures.set(op, message);
  }

  onCall(listener: (what: string) => void): void {
    this.callListeners.add(listener);
  }

  /** The postmaster dies at once (kill -9): no checkpoint, no handover; the loop hears an unexpected exit. */
  crash(): void {
    if (this.proc !== null) this.halt('crash');
  }

  /** The agent died: its calls never complete from now on. PostgreSQL itself is left as it is. */
  cutOff(): void {
    this.dead = true;
  }

  /** A directory with data, stopped, as if left by an earlier run (for tests that start mid-life). */
  seed(data: FakeData, target: ReplicaTarget | null = null): void {
    this.dataDirectory = { ...data, history: [...data.history] };
    this.configTarget = target;
  }

  // ---- LocalPostgres ------------------------------------------------------------------------

  get isRunning(): boolean {
    return this.proc !== null;
  }

  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  get target(): ReplicaTarget | null {
    return this.configTarget;
  }

  async adoptRunning(): Promise<number | null> {
    await this.enter('adoptRunning');
    return this.proc?.pid ?? null;
  }

  onExit(listener: (exit: PostmasterExit) => void): void {
    this.exitListeners.push(listener);
  }

  async dataState(): Promise<DataDirState> {
    await this.enter('dataState', false);
    if (this.dataDirectory !== null) return { kind: 'initialized', version: '16' };
    return this.removed ? { kind: 'empty' } : { kind: 'missing' };
  }

  async controlData(): Promise<ControlData> {
    await this.enter('controlData', false);
    const data = this.dataDirectory;
    if (data === null) throw new PostgresError('pg_controldata', `${this.dataDir} has no data`);
    return {
      systemIdentifier: data.systemId,
      state: data.state,
      timeline: data.timeline,
      checkpointLsn: data.checkpointLsn,
      cleanShutdown: data.state === 'shut down' || data.state === 'shut down in recovery',
      walLogHints: true,
      dataChecksums: false,
      raw: {},
    };
  }

  async status(): Promise<PgStatus> {
    await this.enter('status', false);
    const { proc, data } = this.answering('status');
    if (proc.role === 'primary') return { role: 'primary', timeline: data.timeline, walLsn: this.walPosition() };
    const streaming = this.streaming;
    return {
      role: 'replica',
      timeline: data.timeline,
      receivedLsn: proc.receivedLsn,
      replayedLsn: data.walEnd,
      replayPaused: false,
      receiver:
        streaming && proc.upstream !== null
          ? {
              status: 'streaming',
              upstreamHost: proc.upstream.host,
              upstreamPort: proc.upstream.port,
              slotName: null,
              receivedTimeline: data.timeline,
              flushedLsn: proc.receivedLsn,
            }
          : null,
    };
  }

  async systemId(): Promise<string> {
    await this.enter('systemId', false);
    return this.answering('systemId').data.systemId;
  }

  async pendingRestart(): Promise<boolean> {
    await this.enter('pendingRestart', false);
    this.answering('pendingRestart');
    return this.pendingRestartFlag;
  }

  async closeConnection(): Promise<void> {
    await this.enter('closeConnection', false);
  }

  async writeConfig(_dynamic: DynamicConfig, target: ReplicaTarget | null): Promise<boolean> {
    await this.enter(`writeConfig ${target === null ? 'primary' : `replica ${addressText(target.upstream)}`}`);
    this.fail('writeConfig', 'configuration');
    const data = this.dataDirectory;
    if (data === null) throw new PostgresError('configuration', `${this.dataDir} has no data`);
    const before = JSON.stringify([this.configTarget, data.standbySignal]);
    this.configTarget = target;
    data.standbySignal = target !== null;
    return JSON.stringify([this.configTarget, data.standbySignal]) !== before;
  }

  async markStandby(): Promise<void> {
    await this.enter('markStandby');
    if (this.dataDirectory !== null) this.dataDirectory.standbySignal = true;
  }

  async start(): Promise<StartResult> {
    await this.enter('start');
    const data = this.dataDirectory;
    if (data === null) throw new PostgresError('pg_ctl', `${this.dataDir} has no data`);
    if (this.proc !== null) return { kind: 'ready', pid: this.proc.pid, status: 'ready' };
    const failure = this.takeFailure('start');
    const role = data.standbySignal ? 'replica' : 'primary';
    const proc = this.spawn(role);
    await this.wait('start');
    if (!this.runs(proc))
      return { kind: 'exited', exit: lostExit(proc.pid), output: 'postmaster exited while starting' };
    if (failure !== null) {
      this.halt('crash');
      return { kind: 'exited', exit: lostExit(proc.pid), output: failure };
    }
    this.becomeReady(proc);
    return { kind: 'ready', pid: proc.pid, status: role === 'primary' ? 'ready' : 'standby' };
  }

  async stop(mode: StopMode): Promise<void> {
    await this.enter(`stop ${mode}`);
    const proc = this.proc;
    if (proc === null) return;
    await this.wait('stop');
    if (this.proc !== proc) return;
    this.halt(mode === 'immediate' ? 'immediate' : 'clean');
  }

  async restart(): Promise<StartResult> {
    await this.stop('fast');
    return this.start();
  }

  async promote(): Promise<void> {
    await this.enter('promote');
    const proc = this.proc;
    if (proc === null || !proc.ready) throw new PostgresError('promote', 'PostgreSQL is not running');
    if (proc.role !== 'replica') throw new PostgresError('promote', 'server is not in standby mode');
    this.fail('promote', 'promote');
    await this.wait('promote');
    const data = this.dataDirectory;
    if (this.proc !== proc || data === null) throw new PostgresError('promote', 'PostgreSQL stopped while promoting');
    const switchLsn = Math.max(data.walEnd, proc.receivedLsn ?? 0);
    data.history = [...data.history, [data.timeline, switchLsn]];
    data.timeline = data.newestTimeline + 1;
    data.newestTimeline = data.timeline;
    data.walEnd = switchLsn;
    data.state = 'in production';
    data.standbySignal = false;
    proc.pullTimer?.cancel();
    Object.assign(proc, { role: 'primary', upstream: null, receivedLsn: null, streaming: false, pullTimer: null });
    proc.walSince = this.clock.now();
    this.configTarget = null;
    this.ssnManaged = false;
    this.promotions.push({ at: this.clock.now(), timeline: data.timeline, lsn: switchLsn });
  }

  reload(): void {
    this.record('reload');
    const proc = this.proc;
    if (proc === null || proc.role !== 'replica') return;
    const upstream = this.configTarget?.upstream ?? null;
    if (addressText(upstream) === addressText(proc.upstream)) return;
    proc.upstream = upstream;
    proc.streaming = false;
  }

  async checkpoint(): Promise<void> {
    await this.enter('checkpoint');
    this.fail('checkpoint', 'CHECKPOINT');
    const { proc, data } = this.answering('CHECKPOINT');
    if (proc.role === 'primary') {
      this.materializeWal(proc, data);
      data.checkpointLsn = data.walEnd;
    }
  }

  async bootstrap(): Promise<string> {
    await this.enter('bootstrap');
    if (this.dataDirectory !== null) throw new PostgresError('initdb', `${this.dataDir} is not empty`);
    await this.wait('bootstrap');
    this.fail('bootstrap', 'initdb');
    this.dataDirectory = initdbData(this.network.newSystemId());
    this.removed = false;
    this.configTarget = null;
    this.becomeReady(this.spawn('primary'));
    return this.dataDirectory.systemId;
  }

  async clone(source: HostPort, dynamic: DynamicConfig, target: ReplicaTarget): Promise<void> {
    await this.enter(`clone ${addressText(source)}`);
    await this.wait('clone');
    this.fail('clone', 'pg_basebackup');
    const from = this.network.lookup(source);
    const data = from?.dataDirectory;
    if (from === undefined || !from.ready || data == null) {
      throw new PostgresError('pg_basebackup', `could not connect to ${addressText(source)}`);
    }
    const position = from.walPosition();
    this.dataDirectory = {
      systemId: data.systemId,
      timeline: data.timeline,
      history: [...data.history],
      // A base backup carries every history file of the source.
      newestTimeline: data.newestTimeline,
      walEnd: position,
      checkpointLsn: position,
      state: 'in archive recovery',
      standbySignal: false,
    };
    this.removed = false;
    await this.writeConfig(dynamic, target);
  }

  async rewind(source: HostPort, dynamic: DynamicConfig, target: ReplicaTarget): Promise<RewindResult> {
    await this.enter(`rewind ${addressText(source)}`);
    if (this.proc !== null) await this.stop('fast');
    await this.wait('rewind');
    const result = this.rewindFrom(source);
    // As the real rewind: the configuration is rendered again whatever the outcome.
    await this.writeConfig(dynamic, target);
    return result;
  }

  async removeData(): Promise<void> {
    await this.enter('removeData');
    if (this.proc !== null) this.halt('immediate');
    this.dataDirectory = null;
    this.removed = true;
    this.configTarget = null;
  }

  async syncSlots(): Promise<SlotSyncResult> {
    await this.enter('syncSlots', false);
    return { created: [], dropped: [], failed: [] };
  }

  /** A primary's synchronous replication: its setting, its flush position and who streams from it. */
  async replication(): Promise<{
    synchronousStandbyNames: string;
    flushLsn: number;
    standbys: ReplicaConnection[];
    managed: boolean;
  }> {
    await this.enter('replication', false);
    const { proc } = this.answering('replication');
    if (proc.role !== 'primary') throw new PostgresError('replication', 'recovery is in progress');
    const standbys = this.network
      .all()
      .filter((r) => r.streaming && r.upstreamIs(this))
      .map((r): ReplicaConnection => ({
        pid: r.proc!.pid,
        applicationName: r.name,
        clientAddr: r.address.host,
        state: 'streaming',
        syncState: 'async',
        sentLsn: r.receivedLsn,
        writeLsn: r.receivedLsn,
        flushLsn: r.receivedLsn,
        replayLsn: r.receivedLsn,
      }));
    return { synchronousStandbyNames: this.ssn, flushLsn: this.walPosition(), standbys, managed: this.ssnManaged };
  }

  /** Sets synchronous_standby_names (null: a fresh primary's empty value); in force at once. */
  async setSynchronousStandbyNames(value: string | null): Promise<void> {
    await this.enter(`setSynchronousStandbyNames ${value === null ? 'null' : JSON.stringify(value)}`);
    this.answering('synchronous_standby_names');
    this.ssn = value ?? '';
    this.ssnManaged = true;
  }

  // ---- replication between fakes --------------------------------------------------------------

  /** What this instance can stream to `replica` now; null when it cannot serve it. */
  offerTo(replica: FakePostgres): WalOffer | null {
    const proc = this.proc;
    const mine = this.dataDirectory;
    const theirs = replica.dataDirectory;
    if (proc === null || !proc.ready || mine === null || theirs === null || replica === this) return null;
    const position = this.walPosition();
    if (!historyAllows(theirs, mine, position)) return null;
    return { position, timeline: mine.timeline, history: mine.history };
  }

  private receive(offer: WalOffer): void {
    const proc = this.proc;
    const data = this.dataDirectory;
    if (proc === null || data === null) return;
    data.walEnd = Math.max(data.walEnd, offer.position);
    proc.receivedLsn = data.walEnd;
    if (offer.timeline !== data.timeline) {
      data.timeline = offer.timeline;
      data.history = [...offer.history];
      data.newestTimeline = Math.max(data.newestTimeline, offer.timeline);
    }
  }

  private pull(proc: Postmaster): void {
    proc.pullTimer = null;
    if (this.proc !== proc || proc.role !== 'replica') return;
    const upstream = this.network.lookup(proc.upstream);
    this.fetchHistory(upstream);
    const offer = upstream?.offerTo(this) ?? null;
    proc.streaming = offer !== null;
    if (offer !== null) this.receive(offer);
    this.schedulePull(proc);
  }

  /** What a walreceiver does first: it copies the history files of the upstream's timeline. */
  private fetchHistory(upstream: FakePostgres | undefined): void {
    const mine = this.dataDirectory;
    const theirs = upstream?.ready ? upstream.dataDirectory : null;
    if (mine === null || theirs == null || theirs.systemId !== mine.systemId) return;
    mine.newestTimeline = Math.max(mine.newestTimeline, theirs.timeline);
  }

  private schedulePull(proc: Postmaster): void {
    proc.pullTimer = this.clock.setTimer(this.clock.now() + this.streamInterval(), () => this.pull(proc));
  }

  // ---- internals ------------------------------------------------------------------------------

  private spawn(role: 'primary' | 'replica'): Postmaster {
    const proc: Postmaster = {
      pid: this.network.newPid(),
      role,
      ready: false,
      upstream: role === 'replica' ? (this.configTarget?.upstream ?? null) : null,
      receivedLsn: null,
      streaming: false,
      pullTimer: null,
      walSince: this.clock.now(),
    };
    this.proc = proc;
    return proc;
  }

  private becomeReady(proc: Postmaster): void {
    const data = this.dataDirectory!;
    proc.ready = true;
    this.ssnManaged = false;
    proc.walSince = this.clock.now();
    data.state = proc.role === 'primary' ? 'in production' : 'in archive recovery';
    if (proc.role === 'replica') this.schedulePull(proc);
  }

  private materializeWal(proc: Postmaster, data: FakeData): void {
    if (proc.role !== 'primary' || !proc.ready) return;
    data.walEnd = this.walPosition();
    proc.walSince = this.clock.now();
  }

  /** The postmaster ends: `clean` with a shutdown checkpoint, `immediate` or `crash` without. */
  private halt(how: 'clean' | 'immediate' | 'crash'): void {
    const proc = this.proc!;
    const data = this.dataDirectory!;
    this.materializeWal(proc, data);
    proc.pullTimer?.cancel();
    const receivers = this.network.all().filter((r) => r.proc?.upstream && r.streaming && r.upstreamIs(this));
    if (how === 'clean') {
      if (proc.role === 'primary') {
        data.checkpointLsn = data.walEnd;
        data.walEnd += CHECKPOINT_RECORD_BYTES;
        data.state = 'shut down';
        // Walsenders send everything up to the shutdown checkpoint before they exit.
        const offer: WalOffer = { position: data.walEnd, timeline: data.timeline, history: data.history };
        for (const r of receivers) r.receive(offer);
      } else {
        data.checkpointLsn = data.walEnd;
        data.state = 'shut down in recovery';
      }
    } else {
      data.state = proc.role === 'primary' ? 'in production' : 'in archive recovery';
    }
    this.proc = null;
    const exit: PostmasterExit =
      how === 'crash'
        ? { pid: proc.pid, code: null, signal: 'SIGKILL', expected: false }
        : { pid: proc.pid, code: 0, signal: null, expected: true };
    for (const listener of this.exitListeners) listener(exit);
  }

  /** `proc` is still the running postmaster (nothing stopped or crashed it meanwhile). */
  private runs(proc: Postmaster): boolean {
    return this.proc === proc;
  }

  private upstreamIs(node: FakePostgres): boolean {
    return addressText(this.proc?.upstream ?? null) === addressText(node.address);
  }

  private rewindFrom(source: HostPort): RewindResult {
    const from = this.network.lookup(source);
    const theirs = from?.dataDirectory;
    const mine = this.dataDirectory;
    if (from === undefined || !from.ready || theirs == null) {
      return { kind: 'failed', reason: `could not connect to ${addressText(source)}` };
    }
    if (mine === null) return { kind: 'failed', reason: 'no data directory to rewind' };
    if (mine.systemId !== theirs.systemId) return { kind: 'failed', reason: 'source is from a different system' };
    const fork = forkPoint(mine, theirs);
    // Nothing of the target's WAL lies past the point where the histories part.
    if (mine.walEnd <= fork) return { kind: 'rewound', output: 'no rewind required' };
    mine.timeline = theirs.timeline;
    mine.history = [...theirs.history];
    // pg_rewind copies every file of the source, history files included.
    mine.newestTimeline = Math.max(mine.newestTimeline, theirs.newestTimeline);
    mine.checkpointLsn = Math.min(mine.checkpointLsn, fork);
    mine.walEnd = from.walPosition();
    mine.state = 'in archive recovery';
    return { kind: 'rewound', output: `servers diverged at WAL location ${fork}` };
  }

  /** Throws as PostgreSQL refuses a connection when no postmaster accepts one. */
  private answering(what: string): { proc: Postmaster; data: FakeData } {
    const proc = this.proc;
    const data = this.dataDirectory;
    if (proc === null || data === null) throw new PostgresError(what, 'connection refused');
    if (!proc.ready) throw new PostgresError(what, 'the database system is starting up');
    return { proc, data };
  }

  private record(what: string): void {
    this.calls.push(what);
    for (const listener of this.callListeners) listener(what);
  }

  /** Every call comes through here: recorded when it changes something; a dead agent's never returns. */
  private async enter(what: string, changes = true): Promise<void> {
    if (changes) this.record(what);
    else for (const listener of this.callListeners) listener(what);
    if (this.dead) return new Promise(() => undefined);
  }

  private async wait(task: PgTask): Promise<void> {
    const ms = this.delays[task]?.() ?? 0;
    if (ms > 0) await this.clock.sleep(ms);
    if (this.dead) return new Promise(() => undefined);
  }

  private takeFailure(op: PgFailure): string | null {
    const message = this.failures.get(op) ?? null;
    this.failures.delete(op);
    return message;
  }

  private fail(op: PgFailure, command: string): void {
    const message = this.takeFailure(op);
    if (message !== null) throw new PostgresError(command, message);
  }
}

function lostExit(pid: number): PostmasterExit {
  return { pid, code: 1, signal: null, expected: false };
}

/**
 * Where the WAL of `a` stops being the WAL of `b`, from their timeline histories; +Infinity when
 * both are on the same path (same timeline, same ancestry). Timelines that share a number but
 * not a switch point are told apart, which real PostgreSQL cannot do: a replica of such a
 * timeline does not stream here, where PostgreSQL would stream the wrong WAL.
 */
export function forkPoint(
  a: Pick<FakeData, 'timeline' | 'history'>,
  b: Pick<FakeData, 'timeline' | 'history'>,
): number {
  const segments = (d: Pick<FakeData, 'timeline' | 'history'>): [number, number][] => [
    ...d.history,
    [d.timeline, Number.POSITIVE_INFINITY],
  ];
  const sa = segments(a);
  const sb = segments(b);
  let start = 0;
  for (let i = 0; ; i++) {
    const [tla, enda] = sa[i];
    const [tlb, endb] = sb[i];
    if (tla !== tlb) return start;
    if (enda !== endb) return Math.min(enda, endb);
    if (enda === Number.POSITIVE_INFINITY) return enda;
    start = enda;
  }
}

/**
 * Whether `replica` (its data) can stream from `upstream` at `position`: the same system, and the
 * replica's WAL neither past where their histories part nor past the upstream's end.
 */
export function historyAllows(replica: FakeData, upstream: FakeData, position: number): boolean {
  if (replica.systemId !== upstream.systemId) return false;
  return replica.walEnd <= forkPoint(replica, upstream) && replica.walEnd <= position;
}
