// The per-group HA loop: every cycle reads the group from etcd, observes the local PostgreSQL,
// asks the pure decide() what to do and executes it. Cycles run every loop_wait and are woken
// early by watch events and postmaster exits. Nothing renews the lease outside a cycle.
import { resolveDynamicConfig } from '../config/dynamic.ts';
import type { Config, DynamicConfig } from '../config/types.ts';
import type { Dcs } from '../dcs/dcs.ts';
import type { ClusterView, GroupView } from '../dcs/types.ts';
import { emptyGroup, groupOf } from '../dcs/view.ts';
import type { DcsWatch } from '../dcs/watch.ts';
import type { Logger } from '../log.ts';
import type { PostgresNode } from '../postgres/node.ts';
import { decide } from './decide.ts';
import { Executor, type HaHooks } from './execute.ts';
import { busyState, LocalTracker, observeLocal } from './observe.ts';
import { OperatorRequests, type RequestOutcome, type ScheduledRestart } from './operatorRequests.ts';
import { readPendingRestart } from '../postgres/pendingRestart.ts';
import { pollPeers } from './peerClient.ts';
import { SoftWatchdog, watchdogDeadline } from './watchdog.ts';
import type { DcsHealth, DecideInput, Decision, HaRequest, LastCycle, LocalState, LockState } from './types.ts';
import { errorText } from '../errors.ts';

/** Keys of the own group whose change should trigger a cycle at once. */
const WAKING_KEYS = new Set(['leader', 'failover', 'config', 'initialize', 'sync']);
/** Shortest pause between two hurried cycles, so a failing action cannot spin. */
const MIN_NAP_MS = 50;

export interface HaLoopOptions {
  config: Config;
  dcs: Dcs;
  node: PostgresNode;
  log: Logger;
  version: string;
  hooks?: HaHooks;
  now?: () => number;
}

/** What the loop knows after its last cycle, for the REST API and the Citus side. */
export interface HaSnapshot {
  lock: LockState;
  dcs: DcsHealth;
  view: GroupView | null;
  cluster: ClusterView | null;
  local: LocalState | null;
  dynamic: DynamicConfig;
  lastCycleAt: number;
  dcsLastSeen: number;
  lastDecision: Decision | null;
  /** pg_settings.pending_restart as of the last cycle that saw PostgreSQL running. */
  pendingRestart: boolean;
  scheduledRestart: ScheduledRestart | null;
}

export class HaLoop {
  readonly tracker = new LocalTracker();
  private readonly config: Config;
  private readonly dcs: Dcs;
  private readonly node: PostgresNode;
  private readonly log: Logger;
  private readonly version: string;
  private readonly now: () => number;
  private readonly executor: Executor;
  private lock: LockState = { kind: 'notHeld' };
  private dcsHealth: DcsHealth = { kind: 'ok' };
  private view: GroupView | null = null;
  private cluster: ClusterView | null = null;
  private local: LocalState | null = null;
  private dynamic: DynamicConfig;
  private lastCycle: LastCycle | null = null;
  private lastDecision: Decision | null = null;
  private lastCycleAt: number;
  private dcsLastSeen = 0;
  /** An action of the last cycle failed on an etcd outage: decide on the stale view first. */
  private skipNextRead = false;
  private watch: DcsWatch | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private shuttingDown = false;
  private finished: Promise<void> | null = null;
  private readonly cycleListeners = new Set<(snapshot: HaSnapshot) => void>();
  private readonly watchdog: SoftWatchdog;
  private readonly requests: OperatorRequests;
  private pendingRestart = false;

  constructor(options: HaLoopOptions) {
    this.config = options.config;
    this.dcs = options.dcs;
    this.node = options.node;
    this.log = options.log;
    this.version = options.version;
    this.now = options.now ?? Date.now;
    this.dynamic = options.config.bootstrap.dcs;
    this.lastCycleAt = this.now();
    const group = options.config.citus ? `${options.config.citus.group}-` : '';
    this.requests = new OperatorRequests(options.log);
    this.watchdog = new SoftWatchdog(`${options.config.scope}-${group}${options.config.name}`, options.log);
    this.executor = new Executor({
      config: this.config,
      dcs: this.dcs,
      node: this.node,
      tracker: this.tracker,
      log: this.log,
      hooks: options.hooks ?? {},
      wake: (reason) => this.wake(reason),
      now: this.now,
      memberExtras: () => ({
        version: this.version,
        paused: this.dynamic.pause,
        pendingRestart: this.pendingRestart,
        scheduledRestart: this.requests.published(),
      }),
    });
  }

  snapshot(): HaSnapshot {
    return {
      lock: this.lock,
      dcs: this.dcsHealth,
      view: this.view,
      cluster: this.cluster,
      local: this.local,
      dynamic: this.dynamic,
      lastCycleAt: this.lastCycleAt,
      dcsLastSeen: this.dcsLastSeen,
      lastDecision: this.lastDecision,
      pendingRestart: this.pendingRestart,
      scheduledRestart: this.requests.scheduled,
    };
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
    const adopted = await this.node.process.adoptRunning();
    if (adopted !== null) this.log.info({ pid: adopted }, 'found PostgreSQL running; adopted it');
    this.node.process.onExit((exit) => {
      // An exit during a start is a failed start: retried at the loop's pace, not at once.
      if (this.tracker.start !== null && !this.tracker.start.settled) return;
      if (!exit.expected) {
        this.tracker.noteUnexpectedExit(this.now());
        this.log.warn({ pid: exit.pid, code: exit.code, signal: exit.signal }, 'postgres exited unexpectedly');
      }
      this.wake('postgres exited');
    });
    this.watchdog.start();
    this.finished = this.run();
  }

  /** Graceful shutdown: one last cycle decides how to stop PostgreSQL and release the lock. */
  async stop(): Promise<void> {
    this.shuttingDown = true;
    this.wake('shutdown requested');
    await this.finished;
  }

  wake(reason: string): void {
    this.log.debug({ reason }, 'cycle woken');
    this.woken = true;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    for (;;) {
      const started = this.now();
      let hurry = false;
      try {
        hurry = await this.cycle();
      } catch (err) {
        this.log.error({ err: errorText(err) }, 'HA cycle failed');
      }
      this.lastCycleAt = this.now();
      await this.feedWatchdog();
      for (const listener of this.cycleListeners) {
        try {
          listener(this.snapshot());
        } catch (err) {
          this.log.error({ err: String(err) }, 'cycle listener failed');
        }
      }
      if (this.shuttingDown && this.shutdownComplete()) break;
      const elapsed = this.now() - started;
      let nap = hurry ? MIN_NAP_MS : Math.max(MIN_NAP_MS, this.dynamic.loop_wait * 1000 - elapsed);
      // A scheduled restart runs at its time, not up to a loop_wait later.
      const untilRestart = this.requests.msUntilScheduled(this.now());
      if (untilRestart !== null) nap = Math.max(MIN_NAP_MS, Math.min(nap, untilRestart));
      await this.sleep(nap);
    }
    this.requests.drop('the agent stopped');
    this.watch?.close();
    this.watch = null;
    await this.watchdog.stop();
    await this.node.closeConnection();
    this.log.info('HA loop stopped');
  }

  /** Keeps the fence one step ahead while this member is a lock-holding primary; disarms it otherwise. */
  private async feedWatchdog(): Promise<void> {
    const pid = this.node.process.pid;
    try {
      if (this.lock.kind === 'held' && this.local?.kind === 'runningPrimary' && pid !== null && !this.dynamic.pause) {
        await this.watchdog.arm(watchdogDeadline(this.lock.confirmedAt, this.dynamic.ttl), pid, this.node.dataDir);
      } else {
        await this.watchdog.disarm();
      }
    } catch (err) {
      this.log.error({ action: 'watchdog', err: String(err) }, 'cannot update the watchdog');
    }
  }

  private shutdownComplete(): boolean {
    return !this.node.isRunning && this.tracker.task === null && this.lock.kind === 'notHeld';
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return new Promise((resolve) => setTimeout(resolve, MIN_NAP_MS));
    }
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

  /** One observe → decide → execute pass. Returns whether the next cycle should follow at once. */
  private async cycle(): Promise<boolean> {
    // Right after an etcd call ran into retry_timeout, another read could block for a further
    // retry_timeout before a primary gets to fence itself; the outage is fresh news, so decide
    // on it at once (a lock holder past retry_timeout demotes) and read again next cycle.
    if (this.skipNextRead) this.skipNextRead = false;
    else await this.readDcs();
    const view = this.view ?? emptyGroup(this.config.citus?.group ?? null);
    if (this.tracker.lockAcquiredAt !== null) {
      this.lock = { kind: 'held', confirmedAt: this.tracker.lockAcquiredAt };
      this.tracker.lockAcquiredAt = null;
    }
    const now = this.now();
    const local = await observeLocal(this.node, this.tracker, this.view, now);
    this.local = local;
    await this.readPendingRestart(local);
    const taken = this.requests.take(now, this.dynamic.loop_wait);
    const taskFailure = this.tracker.taskFailure;
    this.tracker.taskFailure = null;
    const lastCycle: LastCycle | null = taskFailure !== null ? { failed: taskFailure } : this.lastCycle;
    const input: DecideInput = {
      now,
      self: {
        name: this.config.name,
        tags: this.config.tags,
        reinitializeOnRewindFailure: this.config.postgresql.remove_data_directory_on_rewind_failure,
      },
      view,
      config: this.dynamic,
      local,
      lock: this.lock,
      dcs: this.dcsHealth,
      peers: null,
      shuttingDown: this.shuttingDown,
      lastCycle,
      request: taken?.request ?? null,
      pendingRestart: this.pendingRestart,
    };
    let decision = decide(input);
    const ask = decision.actions.length === 1 ? decision.actions[0] : undefined;
    if (ask?.kind === 'askPeers') {
      const peers = await pollPeers(view, ask.members);
      input.peers = peers;
      decision = decide(input);
    }
    this.lastDecision = decision;
    this.logDecision(decision);
    this.executor.lastStarted = null;
    const result = await this.executor.run(decision.actions, input);
    taken?.settle(decision, result.failed, this.executor.lastStarted);
    // A task started by this cycle is what the snapshot must show: a restarted primary has to be
    // seen not running at least once, or the Citus side would never send after_promote.
    if (this.tracker.task !== null) this.local = busyState(this.tracker.task);
    this.lock = result.lock;
    this.lastCycle = { failed: result.failed };
    if (result.dcsError !== null) {
      this.markDcsDown(result.dcsError);
      this.skipNextRead = true;
    }
    if (this.requests.takeRender()) await this.renderConfiguration(input, decision);
    return result.hurry;
  }

  private async readPendingRestart(local: LocalState): Promise<void> {
    if (local.kind !== 'runningPrimary' && local.kind !== 'runningReplica') {
      // Whatever was pending applies at the next start.
      if (local.kind !== 'busy') this.pendingRestart = false;
      return;
    }
    try {
      this.pendingRestart = await readPendingRestart(this.node);
    } catch (err) {
      this.log.debug({ err: String(err) }, 'cannot read pending_restart');
    }
  }

  /** Renders PostgreSQL's configuration for its current role and signals it; a stopped one gets it at its next start. */
  private async renderConfiguration(input: DecideInput, decision: Decision): Promise<void> {
    // Only on a cycle that changed nothing: a role change renders for the new role itself.
    const quiet = decision.actions.every(
      (a) => a.kind === 'updateLock' || a.kind === 'touchMember' || a.kind === 'wait',
    );
    if (this.tracker.task !== null || !quiet) {
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

  private async readDcs(): Promise<void> {
    try {
      const cluster = await this.dcs.loadCluster();
      this.cluster = cluster;
      this.view = groupOf(cluster, this.config.citus?.group ?? null);
      this.dcsHealth = { kind: 'ok' };
      this.dcsLastSeen = this.now();
      this.applyDynamicConfig(this.view);
      if (this.watch === null) this.startWatch(cluster.revision);
    } catch (err) {
      this.markDcsDown(errorText(err));
    }
  }

  private markDcsDown(error: string): void {
    if (this.dcsHealth.kind === 'ok') {
      this.dcsHealth = { kind: 'unreachable', since: this.now(), error };
      this.log.warn({ err: error }, 'etcd unreachable');
    }
  }

  private applyDynamicConfig(view: GroupView): void {
    const resolved = resolveDynamicConfig(view.config?.value ?? null, this.config.bootstrap.dcs);
    for (const problem of resolved.problems) this.log.warn({ path: problem.path }, `config key: ${problem.message}`);
    const before = this.dynamic;
    this.dynamic = resolved.config;
    if (before.ttl !== resolved.config.ttl || before.retry_timeout !== resolved.config.retry_timeout) {
      this.dcs.reconfigure({ ttl: resolved.config.ttl, retryTimeout: resolved.config.retry_timeout });
      this.log.info({ ttl: resolved.config.ttl, retry_timeout: resolved.config.retry_timeout }, 'timing changed');
    }
  }

  private startWatch(revision: string): void {
    const own = this.config.citus?.group ?? null;
    this.watch = this.dcs.watch(revision, (events, _revision, signal) => {
      if (signal === 'resync') return this.wake('watch resync');
      const relevant = events.find((e) => e.group === own && WAKING_KEYS.has(e.name));
      if (relevant) this.wake(`${relevant.name} ${relevant.type}`);
    });
  }

  private logDecision(decision: Decision): void {
    const kinds = decision.actions.map((a) => a.kind);
    const routine = kinds.every((k) => k === 'updateLock' || k === 'touchMember' || k === 'wait' || k === 'follow');
    const fields = { action: kinds.join(','), reason: decision.reason, role: decision.role };
    if (routine) this.log.debug(fields, decision.reason);
    else this.log.info(fields, decision.reason);
  }
}
