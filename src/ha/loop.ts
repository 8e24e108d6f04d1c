// The per-group HA loop: every cycle reads the group from etcd, observes the local PostgreSQL,
// asks the pure decide() what to do and executes it. Cycles run every loop_wait and are woken
// early by watch events and postmaster exits. Nothing renews the lease outside a cycle. How long
// to nap and whether to fence come from schedule.ts; the loop only carries them out.
import type { Config } from '../config/types.ts';
import { apiUrl, connUrl } from '../dcs/memberUrl.ts';
import { errorText } from '../errors.ts';
import type { Logger } from '../log.ts';
import { runFencing, type FenceOutcome } from '../postgres/callbacks.ts';
import { decideAnswered, type Askers } from './ask.ts';
import { Executor, type HaHooks } from './execute.ts';
import { isRoutine, ownLock } from './facts.ts';
import { callFailsafe } from './failsafeClient.ts';
import { FailsafeState, type FailsafeVerdict } from './failsafeState.ts';
import { GroupReader } from './groupReader.ts';
import { LocalTracker } from './localTracker.ts';
import { busyState, observeLocal, observePendingRestart } from './observe.ts';
import { OperatorRequests, type RequestOutcome, type ScheduledRestart } from './operatorRequests.ts';
import { pollPeers } from './peerClient.ts';
import type { FailsafeCaller, Fence, HaStore, LocalPostgres, PeerAsker } from './ports.ts';
import { fenceDeadline, hurries, nextNapMs } from './schedule.ts';
import type { CycleReport, HaSnapshot } from './snapshot.ts';
import type { DecideInput, Decision, HaRequest, LastCycle, LocalState, LockState, SelfInfo } from './types.ts';
import { SoftWatchdog } from './watchdog.ts';

export interface HaLoopOptions {
  config: Config;
  store: HaStore;
  postgres: LocalPostgres;
  log: Logger;
  version: string;
  hooks?: HaHooks;
  now?: () => number;
  /** GET /patroni of peers; the REST client by default. */
  askPeers?: PeerAsker;
  /** POST /failsafe to members; the REST client by default. */
  callFailsafe?: FailsafeCaller;
  /** The fence for a stalled primary; the software watchdog by default. */
  fence?: Fence;
  /** Told how long each cycle took, in milliseconds (metrics). */
  cycleObserver?: (ms: number) => void;
  /** Runs postgresql.pre_promote; the command itself by default. */
  runFencing?: (command: string[], timeoutMs: number) => Promise<FenceOutcome>;
}

export class HaLoop {
  private readonly tracker = new LocalTracker();
  private readonly config: Config;
  private readonly etcd: GroupReader;
  private readonly node: LocalPostgres;
  private readonly askers: Askers;
  private readonly failsafe = new FailsafeState();
  private readonly log: Logger;
  private readonly version: string;
  private readonly now: () => number;
  private readonly executor: Executor;
  private lock: LockState = { kind: 'notHeld' };
  private local: LocalState | null = null;
  private lastCycle: LastCycle | null = null;
  private lastDecision: Decision | null = null;
  private lastCycleAt: number;
  /** When pre_promote last refused a promotion. */
  private promotionRefusedAt: number | null = null;
  /** An action of the last cycle failed on an etcd outage: decide on the stale view first. */
  private skipNextRead = false;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private shuttingDown = false;
  private finished: Promise<void> | null = null;
  private readonly cycleListeners = new Set<(snapshot: HaSnapshot) => void>();
  private readonly watchdog: Fence;
  private readonly requests: OperatorRequests;
  private pendingRestart = false;
  private readonly self: SelfInfo;
  private readonly cycleObserver: (ms: number) => void;

  constructor(options: HaLoopOptions) {
    this.config = options.config;
    this.now = options.now ?? Date.now;
    this.cycleObserver = options.cycleObserver ?? (() => undefined);
    const { name, tags, postgresql } = options.config;
    this.self = { name, tags, reinitializeOnRewindFailure: postgresql.remove_data_directory_on_rewind_failure };
    this.etcd = new GroupReader({
      config: options.config,
      store: options.store,
      log: options.log,
      now: this.now,
      wake: (reason) => this.wake(reason),
      renderWanted: () => this.requests.wantRender(),
    });
    this.node = options.postgres;
    const askPeers = options.askPeers ?? pollPeers;
    const { connect_address: pg } = options.config.postgresql;
    const { connect_address: api } = options.config.restapi;
    this.askers = {
      askPeers,
      callFailsafe:
        options.callFailsafe ?? ((members, body) => callFailsafe(members, body, options.config.restapi.authentication)),
      failsafeBody: () => ({
        name,
        conn_url: connUrl(pg.host, pg.port),
        api_url: apiUrl(api.host, api.port, options.config.restapi.tls !== undefined),
      }),
    };
    this.log = options.log;
    this.version = options.version;
    this.lastCycleAt = this.now();
    const group = options.config.citus ? `${options.config.citus.group}-` : '';
    this.requests = new OperatorRequests(options.log);
    this.watchdog =
      options.fence ?? new SoftWatchdog(`${options.config.scope}-${group}${options.config.name}`, options.log);
    this.executor = new Executor({
      config: this.config,
      store: options.store,
      postgres: this.node,
      tracker: this.tracker,
      askPeers,
      log: this.log,
      hooks: options.hooks ?? {},
      wake: (reason) => this.wake(reason),
      now: this.now,
      runFencing: options.runFencing ?? runFencing,
      memberExtras: () => ({
        version: this.version,
        paused: this.etcd.dynamic.pause,
        pendingRestart: this.pendingRestart,
        scheduledRestart: this.requests.published(),
        cloneProgress: this.node.cloneStatus?.() ?? null,
      }),
    });
  }

  snapshot(): HaSnapshot {
    return {
      lock: this.lock,
      dcs: this.etcd.health,
      view: this.etcd.view,
      cluster: this.etcd.cluster,
      local: this.local,
      dynamic: this.etcd.dynamic,
      lastCycleAt: this.lastCycleAt,
      dcsLastSeen: this.etcd.lastSeen,
      lastDecision: this.lastDecision,
      pendingRestart: this.pendingRestart,
      scheduledRestart: this.requests.scheduled,
      failsafeActive: this.failsafe.activeAt(this.now(), this.etcd.dynamic.ttl),
    };
  }

  /** POST /failsafe from `leader`, a primary without etcd (see failsafeState.ts). */
  acceptFailsafe(leader: string): FailsafeVerdict {
    const runsAsOtherPrimary = this.local?.kind === 'runningPrimary' && leader !== this.config.name;
    const context = { failsafeMode: this.etcd.dynamic.failsafe_mode, runsAsOtherPrimary };
    return this.failsafe.accept(leader, this.now(), context);
  }

  /** Hands an operator's request to the next cycle (woken at once); resolves once that cycle ran. */
  request(request: HaRequest): Promise<RequestOutcome> {
    if (this.shuttingDown) return Promise.resolve({ kind: 'refused', reason: 'the agent is shutting down' });
    const outcome = this.requests.submit(request);
    this.wake(`${request.kind} requested`);
    return outcome;
  }

  /** False when a restart is scheduled already. The member key shows it from the next cycle on. */
  scheduleRestart(restart: ScheduledRestart): boolean {
    const ok = this.requests.schedule(restart);
    if (ok) this.wake('restart scheduled');
    return ok;
  }

  /** False when no restart was scheduled. */
  cancelScheduledRestart(): boolean {
    const ok = this.requests.cancelScheduled();
    if (ok) this.wake('scheduled restart cancelled');
    return ok;
  }

  /** After a configuration reload: the next cycle renders PostgreSQL's configuration again and signals it. */
  renderConfig(): void {
    this.requests.wantRender();
    this.wake('configuration reloaded');
  }

  /** Called after every completed cycle (the Citus side starts and stops its manager from here). */
  onCycle(listener: (snapshot: HaSnapshot) => void): () => void {
    this.cycleListeners.add(listener);
    return () => this.cycleListeners.delete(listener);
  }

  /** Adopts a running postmaster, then runs cycles until stop() completes a shutdown cycle. */
  async start(): Promise<void> {
    await this.attach();
    this.finished = this.run();
  }

  /** Graceful shutdown: one last cycle decides how to stop PostgreSQL and release the lock. */
  async stop(): Promise<void> {
    this.beginShutdown();
    await this.finished;
  }

  wake(reason: string): void {
    this.log.debug({ reason }, 'cycle woken');
    this.woken = true;
    this.wakeUp?.();
  }

  /** Takes over a running postmaster, listens for its exits and starts the fence; cycles may run after. */
  async attach(): Promise<void> {
    const adopted = await this.node.adoptRunning();
    if (adopted !== null) this.log.info({ pid: adopted }, 'found PostgreSQL running; adopted it');
    this.node.onExit((exit) => {
      // An exit during a start is a failed start: retried at the loop's pace, not at once.
      if (this.tracker.starting) return;
      if (!exit.expected) {
        this.tracker.noteUnexpectedExit(this.now());
        this.log.warn({ pid: exit.pid, code: exit.code, signal: exit.signal }, 'postgres exited unexpectedly');
      }
      this.wake('postgres exited');
    });
    this.watchdog.start();
  }

  /** From now on cycles decide how to stop; `shutdownComplete` says when the last one ran. */
  beginShutdown(): void {
    this.shuttingDown = true;
    this.wake('shutdown requested');
  }

  /** After a shutdown: PostgreSQL stopped, no task running and the lock not ours. */
  get shutdownComplete(): boolean {
    return this.shuttingDown && !this.node.isRunning && this.tracker.task === null && this.lock.kind === 'notHeld';
  }

  /** Ends what attach() started: refuses a waiting request, closes the watch, the fence and the connection. */
  async detach(): Promise<void> {
    this.requests.drop('the agent stopped');
    this.etcd.close();
    await this.watchdog.stop();
    await this.node.closeConnection();
  }

  /** One cycle with its bookkeeping: the snapshot's time, the fence, the cycle listeners. */
  async runCycle(): Promise<CycleReport> {
    let report: CycleReport = { decision: null, hurry: false };
    const started = performance.now();
    try {
      report = await this.cycle();
    } catch (err) {
      this.log.error({ err: errorText(err) }, 'HA cycle failed');
    }
    this.cycleObserver(performance.now() - started);
    this.lastCycleAt = this.now();
    await this.feedFence();
    for (const listener of this.cycleListeners) {
      try {
        listener(this.snapshot());
      } catch (err) {
        this.log.error({ err: errorText(err) }, 'cycle listener failed');
      }
    }
    return report;
  }

  private async run(): Promise<void> {
    for (;;) {
      const started = this.now();
      const { hurry, decision } = await this.runCycle();
      const recheck = decision?.recheckMs ?? null;
      if (this.shutdownComplete) break;
      const nap = nextNapMs({
        hurry,
        woken: this.woken,
        elapsedMs: this.now() - started,
        loopWaitSeconds: this.etcd.dynamic.loop_wait,
        untilScheduledMs: this.requests.msUntilScheduled(this.now()),
        recheckMs: recheck,
      });
      await this.sleep(nap);
    }
    await this.detach();
    this.log.info('HA loop stopped');
  }

  /** Keeps the fence one step ahead while this member is a lock-holding primary; disarms it otherwise. */
  private async feedFence(): Promise<void> {
    const pid = this.node.pid;
    const deadline = fenceDeadline({
      lock: this.lock,
      local: this.local,
      pid,
      paused: this.etcd.dynamic.pause,
      ttlSeconds: this.etcd.dynamic.ttl,
    });
    try {
      if (deadline !== null && pid !== null) await this.watchdog.arm(deadline, pid, this.node.dataDir);
      else await this.watchdog.disarm();
    } catch (err) {
      this.log.error({ action: 'watchdog', err: errorText(err) }, 'cannot update the watchdog');
    }
  }

  /** Sleeps `ms`, cut short by a wake-up. */
  private sleep(ms: number): Promise<void> {
    this.woken = false;
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        this.woken = false;
        done();
      };
    });
  }

  /** One observe → decide → execute pass. */
  private async cycle(): Promise<CycleReport> {
    // Right after an etcd call ran into retry_timeout, another read could block for a further
    // retry_timeout before a primary gets to fence itself; the outage is fresh news, so decide
    // on it at once (a lock holder past retry_timeout demotes) and read again next cycle.
    if (this.skipNextRead) this.skipNextRead = false;
    else await this.etcd.read();
    const view = this.etcd.viewOrEmpty();
    const acquiredAt = this.tracker.takeAcquiredLock();
    if (acquiredAt !== null) this.lock = { kind: 'held', confirmedAt: acquiredAt };
    const now = this.now();
    const local = await observeLocal(this.node, this.tracker, this.etcd.view, now);
    this.local = local;
    this.pendingRestart = await observePendingRestart(this.node, local, this.pendingRestart, this.log);
    const taken = this.requests.take(now, this.etcd.dynamic.loop_wait);
    const taskFailure = this.tracker.takeTaskFailure();
    const lastCycle: LastCycle | null = taskFailure !== null ? { failed: taskFailure } : this.lastCycle;
    const input: DecideInput = {
      now,
      self: this.self,
      view,
      config: this.etcd.dynamic,
      local,
      lock: ownLock(this.lock, this.etcd.health, view, this.config.name),
      dcs: this.etcd.health,
      peers: null,
      shuttingDown: this.shuttingDown,
      lastCycle,
      request: taken?.request ?? null,
      pendingRestart: this.pendingRestart,
      failsafeLeader: this.failsafe.leaderAt(now, this.etcd.dynamic.ttl),
      failsafeAnswers: null,
      promotionRefusedAt: this.promotionRefusedAt,
    };
    const decision = await decideAnswered(input, this.askers);
    if (decision.actions.some((a) => a.kind === 'confirmLockByFailsafe')) this.failsafe.confirmed(now);
    this.lastDecision = decision;
    this.logDecision(decision);
    const result = await this.executor.run(decision.actions, input);
    taken?.settle(decision, result.failed, result.started);
    // A task started by this cycle is what the snapshot must show: a restarted primary has to be
    // seen not running at least once, or the Citus side would never send after_promote.
    if (this.tracker.task !== null) this.local = busyState(this.tracker.task);
    this.lock = result.lock;
    this.lastCycle = { failed: result.failed };
    if (result.promotionRefused) this.promotionRefusedAt = now;
    if (result.dcsError !== null) {
      this.etcd.markDown(result.dcsError);
      this.skipNextRead = true;
    }
    if (this.requests.takeRender()) await this.renderConfiguration(input, decision);
    const afterFailure = result.failed !== null || input.local.kind === 'startFailed';
    return { decision, hurry: hurries(decision.actions, afterFailure) };
  }

  /** Renders PostgreSQL's configuration for its role and signals it; a stopped one gets it at its next start. */
  private async renderConfiguration(input: DecideInput, decision: Decision): Promise<void> {
    // Only on a cycle that changed nothing: a role change renders for the new role itself.
    if (this.tracker.task !== null || !isRoutine(decision.actions)) {
      this.requests.wantRender();
      return;
    }
    if (input.local.kind !== 'runningPrimary' && input.local.kind !== 'runningReplica') return;
    try {
      const changed = await this.executor.rerender(input);
      this.log.info(
        { action: 'reload', changed },
        changed ? 'PostgreSQL configuration rendered again and reloaded' : 'PostgreSQL configuration unchanged',
      );
    } catch (err) {
      this.log.error({ action: 'reload', err: errorText(err) }, 'cannot render the PostgreSQL configuration');
    }
  }

  private logDecision(decision: Decision): void {
    const fields = {
      action: decision.actions.map((a) => a.kind).join(','),
      reason: decision.reason,
      role: decision.role,
    };
    if (isRoutine(decision.actions)) this.log.debug(fields, decision.reason);
    else this.log.info(fields, decision.reason);
  }
}
