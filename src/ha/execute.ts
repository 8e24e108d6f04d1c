// Execution half of a cycle: carries out decide()'s actions in order against the group's keys
// (HaStore) and the local PostgreSQL (LocalPostgres). The first failure stops the list (later
// actions assume the earlier ones happened). Long tasks (bootstrap, clone, rewind, reinitialize,
// restart) and starts run in the background; the LocalTracker holds them and their outcome.
// Nothing here chooses: every choice arrives in the action or in the cycle's input.
import type { Config, DynamicConfig, HostPort } from '../config/types.ts';
import { dynamicConfigToJson } from '../config/dynamic.ts';
import { memberAddress } from '../dcs/memberUrl.ts';
import type { GroupView } from '../dcs/types.ts';
import { DcsError, PostgresError, ShardherdError, errorText } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { FenceOutcome } from '../postgres/callbacks.ts';
import { describeStart, type ReplicaTarget } from '../postgres/node.ts';
import { slotNameFromMemberName } from '../postgres/slots.ts';
import type { LocalTracker } from './localTracker.ts';
import { buildMemberData, type MemberExtras } from './memberData.ts';
import { stateAfterActions } from './observe.ts';
import { mergeHistory } from './facts.ts';
import { awaitHandover } from './handover.ts';
import type { HaStore, LocalPostgres, PeerAsker } from './ports.ts';
import type { Action, DecideInput, LockState, LongTask } from './types.ts';

/** Hooks for the layers above the HA core (the Citus side); all optional. */
export interface HaHooks {
  /** Runs on a freshly bootstrapped primary before it takes the leader key. */
  afterBootstrap?(): Promise<void>;
  /**
   * Runs before a planned stop of a primary (switchover, restart, shutdown), after its
   * CHECKPOINT. A failure is logged and the stop goes on.
   */
  beforeDemote?(context: { dynamic: DynamicConfig }): Promise<void>;
}

export interface ExecutorDeps {
  config: Config;
  store: HaStore;
  postgres: LocalPostgres;
  tracker: LocalTracker;
  askPeers: PeerAsker;
  log: Logger;
  hooks: HaHooks;
  /** Wakes the loop (a background task finished, a start settled). */
  wake(reason: string): void;
  now(): number;
  memberExtras(): MemberExtras;
  /** Runs postgresql.pre_promote and waits for its verdict (killed after `timeoutMs`). */
  runFencing(command: string[], timeoutMs: number): Promise<FenceOutcome>;
}

/** A long task this cycle started, and its outcome (rejects with its error) for whoever asked for it. */
export interface StartedTask {
  task: LongTask;
  outcome: Promise<void>;
}

/** What one cycle's execution changed that the loop must remember. */
export interface ExecutionResult {
  lock: LockState;
  failed: { action: Action; message: string } | null;
  /** Set when an action failed because etcd did not answer (not because a compare failed). */
  dcsError: string | null;
  started: StartedTask | null;
  /** postgresql.pre_promote refused a promotion: the leader key was given back. */
  promotionRefused: boolean;
}

export class Executor {
  /** Set while a run() is under way: the task it started, if any. */
  private started: StartedTask | null = null;

  constructor(private readonly deps: ExecutorDeps) {}

  /** Carries out `actions` for the cycle whose input is `input` (its lock as the cycle may count on it). */
  async run(actions: Action[], input: DecideInput): Promise<ExecutionResult> {
    let lock: LockState = input.lock;
    this.started = null;
    for (const action of actions) {
      try {
        lock = await this.carryOut(action, input, lock);
      } catch (err) {
        const message = errorText(err);
        this.deps.log.error({ action: action.kind, err: message }, `action ${action.kind} failed`);
        // A lock step that failed on a compare means the lock is not ours, whatever we thought before.
        if (err instanceof LockLost) lock = { kind: 'notHeld' };
        const dcsError = err instanceof DcsError ? message : null;
        const promotionRefused = err instanceof PromotionRefused;
        return { lock, failed: { action, message }, dcsError, started: this.started, promotionRefused };
      }
    }
    return { lock, failed: null, dcsError: null, started: this.started, promotionRefused: false };
  }

  private async carryOut(action: Action, input: DecideInput, lock: LockState): Promise<LockState> {
    const { store: dcs, postgres: node, config } = this.deps;
    const name = config.name;
    const dynamic = input.config;
    switch (action.kind) {
      case 'askPeers':
      case 'askFailsafe':
      case 'wait':
        return lock;
      case 'confirmLockByFailsafe':
        return { kind: 'held', confirmedAt: this.deps.now() };
      case 'writeFailsafe':
        await dcs.setFailsafe(action.value);
        return lock;
      case 'claimInitialize':
        if (!(await dcs.initialize(action.systemId, true))) throw new ShardherdError('initialize key exists already');
        return lock;
      case 'bootstrap':
        if (!(await dcs.initialize('', true))) throw new ShardherdError('lost the initialize race');
        this.background('bootstrap', action, () => this.bootstrap());
        return lock;
      case 'clone': {
        const source = this.memberAddress(input.view, action.from);
        const target = this.replicaTarget(input.view, input.view.leader?.name ?? action.from, dynamic);
        this.background('clone', action, () => node.clone(source, dynamic, target));
        return lock;
      }
      case 'acquireLock':
        if (!(await dcs.attemptToAcquireLeader(name))) throw new LockLost('the leader key is held by another member');
        return { kind: 'held', confirmedAt: this.deps.now() };
      case 'updateLock': {
        const ok = await dcs.updateLeader(name);
        if (!ok) throw new LockLost('the leader key is no longer ours');
        const confirmedAt = this.deps.now();
        if (action.optime !== null) await dcs.setStatus({ optime: action.optime }, input.view.status);
        await this.maintainSlots(input);
        return { kind: 'held', confirmedAt };
      }
      case 'releaseLock': {
        const optime = await this.shutdownOptime();
        if (optime !== null && action.handover !== undefined && action.handover.members.length > 0) {
          await awaitHandover(this.deps, input.view, action.handover, optime);
        }
        if (optime !== null) await dcs.setStatus({ optime }).catch(() => false);
        await dcs.deleteLeader(name);
        return { kind: 'notHeld' };
      }
      case 'promote':
        await this.clearForPromotion(dynamic);
        await node.promote();
        await node.writeConfig(dynamic, null);
        if (node.isRunning) node.reload();
        this.deps.log.info({ action: 'promote', role: 'primary' }, 'promoted to primary');
        return lock;
      case 'demote':
        await this.demote(action.mode, dynamic);
        return lock;
      case 'stopPostgres':
        await node.stop(action.mode);
        return lock;
      case 'follow': {
        const target = this.replicaTarget(input.view, action.leader, dynamic);
        const changed = await node.writeConfig(dynamic, target);
        if (changed && node.isRunning) node.reload();
        return lock;
      }
      case 'startPostgres': {
        const target =
          action.as === 'primary' ? null : this.replicaTarget(input.view, input.view.leader?.name ?? null, dynamic);
        await node.writeConfig(dynamic, target);
        this.startInBackground(action.as);
        return lock;
      }
      case 'restartInPlace':
        this.startInBackground(action.as);
        return lock;
      case 'rewind': {
        const source = this.memberAddress(input.view, action.from);
        const target = this.replicaTarget(input.view, action.from, dynamic);
        this.background('rewind', action, async () => {
          const result = await node.rewind(source, dynamic, target);
          if (result.kind === 'failed') throw new PostgresError('pg_rewind', result.reason);
        });
        return lock;
      }
      case 'restart':
        this.background('restart', action, () => this.restart(action.role, dynamic), action.role);
        return lock;
      case 'reinitialize': {
        const source = this.memberAddress(input.view, action.from);
        const target = this.replicaTarget(input.view, input.view.leader?.name ?? action.from, dynamic);
        this.background('reinitialize', action, async () => {
          await node.removeData();
          await node.clone(source, dynamic, target);
        });
        return lock;
      }
      case 'writeHistory':
        await dcs.setHistory(mergeHistory(input.view.history?.value ?? [], action.entry));
        return lock;
      case 'clearFailover':
        await dcs.setFailover({});
        return lock;
      case 'writeSync':
        if (action.value === null) await dcs.deleteSync();
        else await dcs.setSync(action.value);
        return lock;
      case 'setSyncStandbys':
        await node.setSynchronousStandbyNames(action.value, dynamic);
        this.deps.tracker.syncStandbysChanged();
        this.deps.log.info(
          { action: 'setSyncStandbys', synchronous_standby_names: action.value },
          `synchronous_standby_names is ${action.value === null ? 'reset' : `'${action.value}'`}`,
        );
        return lock;
      case 'touchMember': {
        // Renewing the lease here ties it to a completed cycle: a stuck loop lets it expire.
        await dcs.refreshLease();
        const local = await stateAfterActions(this.deps.postgres, this.deps.tracker, input.local);
        const data = buildMemberData(config, local, lock.kind === 'held', this.deps.memberExtras());
        await dcs.touchMember(name, data, input.view);
        return lock;
      }
    }
  }

  /**
   * Renders PostgreSQL's configuration again for the role it runs in (after the agent reloaded
   * its configuration file) and signals it when anything changed. Returns whether it changed.
   */
  async rerender(input: DecideInput): Promise<boolean> {
    const { postgres: node } = this.deps;
    const leader = input.view.leader?.name ?? null;
    const target =
      input.local.kind === 'runningPrimary'
        ? null
        : leader !== null
          ? this.replicaTarget(input.view, leader, input.config)
          : (node.target ?? { upstream: null, slotName: null });
    const changed = await node.writeConfig(input.config, target);
    if (changed && node.isRunning) node.reload();
    return changed;
  }

  /**
   * postgresql.pre_promote, when configured (Patroni's fencing hook): run and waited for, at most
   * ttl. A refusal gives the leader key back; an approval is followed by a check that the key is
   * still ours, as the command may have outlasted its lease.
   */
  private async clearForPromotion(dynamic: DynamicConfig): Promise<void> {
    const { config, store, log } = this.deps;
    const command = config.postgresql.pre_promote;
    if (command === undefined) return;
    const outcome = await this.deps.runFencing(command, dynamic.ttl * 1000);
    if (!outcome.ok) {
      await store.deleteLeader(config.name).catch(() => false);
      throw new PromotionRefused(`pre_promote ${outcome.reason}: not promoting; the leader key is released`);
    }
    log.info({ action: 'promote', pre_promote: command.join(' ') }, 'pre_promote allows the promotion');
    if (!(await store.updateLeader(config.name))) throw new LockLost('the leader key was lost while pre_promote ran');
  }

  /** A demoted primary is stopped and marked standby so no later start can come up writable. */
  private async demote(mode: 'graceful' | 'immediate' | 'offline', dynamic: DynamicConfig): Promise<void> {
    const { postgres: node, log } = this.deps;
    if (mode === 'graceful') await this.prepareStop('stop', dynamic);
    await node.stop(mode === 'immediate' ? 'immediate' : 'fast');
    await node.markStandby();
    log.warn({ action: 'demote', mode, role: 'demoted' }, `demoted (${mode})`);
  }

  /**
   * Before a planned stop of a primary: a CHECKPOINT first, which flushes most dirty buffers while
   * writes still flow, so the shutdown checkpoint (taken while the coordinator holds writes) is
   * short; then the before-demote hook. Either failing is logged and the stop goes on.
   */
  private async prepareStop(what: 'stop' | 'restart', dynamic: DynamicConfig): Promise<void> {
    const { postgres: node, hooks, log } = this.deps;
    await node
      .checkpoint()
      .catch((err: unknown) => log.warn({ err: errorText(err) }, `checkpoint before ${what} failed`));
    await hooks
      .beforeDemote?.({ dynamic })
      .catch((err: unknown) => log.warn({ err: errorText(err) }, 'before-demote hook failed'));
  }

  /**
   * Stop and start in the same role with the configuration as it is. A primary is the leader
   * (decide checked): the cycles running meanwhile keep its lock, and the Citus side is told
   * before the stop so routed writes wait instead of failing.
   */
  private async restart(role: 'primary' | 'replica', dynamic: DynamicConfig): Promise<void> {
    const { postgres: node, log } = this.deps;
    if (role === 'primary') await this.prepareStop('restart', dynamic);
    const started = await node.restart();
    if (started.kind !== 'ready')
      throw new PostgresError('restart', `postgres did not start again: ${describeStart(started)}`);
    log.info({ action: 'restart', role }, 'PostgreSQL restarted');
  }

  private async bootstrap(): Promise<void> {
    const { store: dcs, postgres: node, config, hooks, log, tracker } = this.deps;
    const dynamic = config.bootstrap.dcs;
    try {
      const systemId = await node.bootstrap(dynamic, config.bootstrap.initdb);
      await hooks.afterBootstrap?.();
      await dcs.initialize(systemId, false);
      await dcs.setConfig(dynamicConfigToJson(dynamic));
      if (!(await dcs.attemptToAcquireLeader(config.name)))
        throw new ShardherdError('could not take the leader key after bootstrap');
      tracker.noteLockAcquired(this.deps.now());
      log.info({ action: 'bootstrap', role: 'primary', systemId }, 'bootstrapped a new cluster');
    } catch (err) {
      log.error({ action: 'bootstrap', err: errorText(err) }, 'bootstrap failed; removing the data directory');
      await dcs.cancelInitialization().catch(() => undefined);
      await node.removeData().catch(() => undefined);
      throw err;
    }
  }

  /** Runs a long task off the cycle; the tracker reports it as busy until it ends. */
  private background(task: LongTask, action: Action, fn: () => Promise<void>, role?: 'primary' | 'replica'): void {
    const { tracker, log } = this.deps;
    if (tracker.task !== null) throw new ShardherdError(`${tracker.task.task} is already running`);
    const since = this.deps.now();
    log.info({ action: action.kind, task }, `${task} started`);
    const outcome = fn();
    this.started = { task, outcome };
    tracker.runTask(role === undefined ? { task, since } : { task, since, role }, action, outcome, (failure) => {
      if (failure !== null) {
        log.error({ action: action.kind, task, err: failure }, `${task} failed`);
        // Retried at the normal pace, not at once: a persistent failure must not spin.
        return;
      }
      log.info({ action: action.kind, task }, `${task} finished`);
      this.deps.wake(`${task} ended`);
    });
  }

  private startInBackground(as: 'primary' | 'replica'): void {
    const { postgres: node, tracker, log } = this.deps;
    tracker.startBegan(as, this.deps.now());
    void node.start().then(
      (result) => {
        if (result.kind === 'exited') {
          // Not woken: the next attempt comes at the normal pace.
          tracker.startSettled({ at: this.deps.now(), message: describeStart(result) });
          log.error({ action: 'startPostgres', as, err: describeStart(result) }, 'postgres failed to start');
          return;
        }
        tracker.startSettled(null);
        this.deps.wake('postgres start settled');
      },
      (err: unknown) => tracker.startSettled({ at: this.deps.now(), message: errorText(err) }),
    );
  }

  /** Physical slots for the other members while this primary holds the lock (use_slots). */
  private async maintainSlots(input: DecideInput): Promise<void> {
    if (!input.config.postgresql.use_slots || input.local.kind !== 'runningPrimary') return;
    const others = input.view.members.map((m) => m.name).filter((n) => n !== this.deps.config.name);
    try {
      const result = await this.deps.postgres.syncSlots(others);
      if (result.created.length || result.dropped.length)
        this.deps.log.info({ created: result.created, dropped: result.dropped }, 'replication slots synced');
    } catch (err) {
      this.deps.log.warn({ err: errorText(err) }, 'replication slot sync failed');
    }
  }

  private async shutdownOptime(): Promise<number | null> {
    const { postgres: node } = this.deps;
    if (node.isRunning) return null;
    try {
      return (await node.controlData()).checkpointLsn;
    } catch {
      return null;
    }
  }

  private memberAddress(view: GroupView, member: string): HostPort {
    const data = view.members.find((m) => m.name === member)?.data;
    const address = data === undefined ? null : memberAddress(data);
    if (address === null) throw new ShardherdError(`member ${member} publishes no usable conn_url`);
    return address;
  }

  private replicaTarget(view: GroupView, leader: string | null, dynamic: DynamicConfig): ReplicaTarget {
    if (leader === null || leader === this.deps.config.name) return { upstream: null, slotName: null };
    const data = view.members.find((m) => m.name === leader)?.data;
    const upstream = data === undefined ? null : memberAddress(data);
    return { upstream, slotName: dynamic.postgresql.use_slots ? slotNameFromMemberName(this.deps.config.name) : null };
  }
}

/** The lock is gone (someone else holds it, or it expired): not a transport error. */
export class LockLost extends ShardherdError {}

/** pre_promote refused: the lock was given back, and the member sits out the race for a while. */
class PromotionRefused extends LockLost {}
