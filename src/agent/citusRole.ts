// The Citus side of an agent: server settings and bootstrap of every group primary, and on the
// coordinator group the Citus manager, run only while this agent holds group 0's leader key
// with PostgreSQL running as primary.
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { keepAuthinfo, type AuthinfoAction } from '../citus/authinfo.ts';
import { citusInstalled, bootstrapCitus } from '../citus/bootstrap.ts';
import { citusSettings } from '../citus/extension.ts';
import { CitusManager } from '../citus/manager.ts';
import type { CitusObserver } from '../citus/observer.ts';
import type { MetadataStatus } from '../citus/metadataView.ts';
import { notifyCoordinator, type CitusEventBody, type NotifyOutcome } from '../citus/notify.ts';
import type { PauseStats } from '../citus/pause.ts';
import { refuse, type PauseAnswer, type PauseEvent } from '../citus/pauseRules.ts';
import { COORDINATOR_GROUP } from '../citus/types.ts';
import type { CitusConfig, Config, DynamicConfig, Scalar } from '../config/types.ts';
import type { Dcs } from '../dcs/dcs.ts';
import type { HaHooks } from '../ha/execute.ts';
import type { HaSnapshot } from '../ha/snapshot.ts';
import type { Logger } from '../log.ts';
import type { PostgresNode } from '../postgres/node.ts';
import { errorText } from '../errors.ts';
import { Serial } from '../serial.ts';

export interface CitusRoleDeps {
  config: Config;
  citus: CitusConfig;
  node: PostgresNode;
  dcs: Dcs;
  log: Logger;
  /** Told of the manager's reconciles, pauses and repoints (metrics). */
  observer?: CitusObserver;
}

/** Where the pg_dist_authinfo upkeep of a group primary stands (see CitusRole.keepAuthinfo). */
interface AuthinfoUpkeep {
  done: { password: string | undefined } | null;
  running: boolean;
  /** Counts ended leads. */
  term: number;
  /** The last failure logged, so a repeat is not. */
  failure: string | null;
}

export class CitusRole {
  /** Whether the server has real Citus (decided once, before PostgreSQL first starts). */
  readonly available: boolean;
  private manager: CitusManager | null = null;
  /** Starts and stops of the manager, one at a time in the order the cycles asked for them. */
  private readonly transitions = new Serial();
  /** The dynamic configuration of the last cycle (the pause settings follow ttl and retry_timeout). */
  private dynamic: DynamicConfig;
  /** A worker's lead as of the last cycle: its start is when after_promote goes out. */
  private leading = false;
  /**
   * pg_dist_authinfo upkeep: the password the row was last found or made right for in this lead
   * (null: not yet in this lead, so a promotion checks the row once), whether a check runs, and
   * which lead it belongs to (one that ends meanwhile does not count for the next).
   */
  private authinfo: AuthinfoUpkeep = { done: null, running: false, term: 0, failure: null };

  constructor(private readonly deps: CitusRoleDeps) {
    this.dynamic = deps.config.bootstrap.dcs;
    this.available = citusInstalled(deps.node.bin.dir, serverMajor(deps.node.bin.path('postgres')));
    if (!this.available)
      deps.log.warn('Citus is not installed here: group primaries get the SQL stand-in of its metadata API');
  }

  /** Settings Citus needs on every member, layered over the user's. */
  parameters(user: Record<string, Scalar>): Record<string, Scalar> {
    return citusSettings({
      citusAvailable: this.available,
      localHostname: this.deps.config.postgresql.connect_address.host,
      maxConnections: Number(user.max_connections ?? 100),
      sharedPreloadLibraries:
        typeof user.shared_preload_libraries === 'string' ? user.shared_preload_libraries : undefined,
      maxPreparedTransactions:
        user.max_prepared_transactions === undefined ? undefined : Number(user.max_prepared_transactions),
    });
  }

  hooks(): HaHooks {
    const { config, citus, node, log } = this.deps;
    return {
      afterBootstrap: async () => {
        await bootstrapCitus({
          citus,
          superuser: config.postgresql.authentication.superuser,
          connectAddress: config.postgresql.connect_address,
          connect: (database) => node.connect(database),
          logger: log,
        });
      },
      beforeDemote: async ({ dynamic }) => {
        if (citus.group === COORDINATOR_GROUP) return;
        // The coordinator answers once routed writes to this group wait; bounded so a hung
        // coordinator delays the stop by about retry_timeout at most.
        await this.notify('before_demote', dynamic, dynamic.retry_timeout * 1000 + 500);
      },
    };
  }

  /**
   * The coordinator side of `POST /citus`: handled by the running manager, refused (503) on a
   * member that does not run it.
   */
  handleEvent(event: PauseEvent): Promise<PauseAnswer> {
    const manager = this.manager;
    if (manager === null) {
      const what =
        this.deps.citus.group === COORDINATOR_GROUP
          ? 'this member is not the coordinator primary'
          : `this member belongs to worker group ${this.deps.citus.group}`;
      return Promise.resolve(refuse('unavailable', `no Citus manager runs here: ${what}`));
    }
    return manager.handleEvent(event);
  }

  /** The pause protocol's counters while this member runs the manager; null otherwise. */
  pauseStats(): PauseStats | null {
    return this.manager?.pauseStats() ?? null;
  }

  /** The coordinator's metadata as the manager last saw it, while this member runs the manager; null otherwise. */
  metadataStatus(): MetadataStatus | null {
    const manager = this.manager;
    if (manager === null) return null;
    return {
      metadata: manager.metadataView(),
      membershipWaiting: manager.membershipWaitReason(),
      scale: manager.scaleStatus(),
    };
  }

  /** Reads the manager's scale state afresh before GET /citus shows it; nothing where no manager runs. */
  async refreshStatus(): Promise<void> {
    await this.manager?.refreshScaleStatus();
  }

  /** After every HA cycle: start or stop the manager to match this member's role. */
  onCycle(snapshot: HaSnapshot): void {
    this.dynamic = snapshot.dynamic;
    const leads =
      snapshot.lock.kind === 'held' &&
      snapshot.local?.kind === 'runningPrimary' &&
      snapshot.view?.leader?.name === this.deps.config.name;
    this.keepAuthinfo(leads);
    if (this.deps.citus.group !== COORDINATOR_GROUP) {
      // The first cycle that runs as primary with the lock: its member key (written at the end
      // of that cycle) already says so, which the coordinator checks before it repoints.
      if (leads && !this.leading)
        void this.notify('after_promote', snapshot.dynamic, snapshot.dynamic.retry_timeout * 1000);
      this.leading = leads;
      return;
    }
    if (leads && this.manager === null) this.serialize(() => this.startManager());
    if (!leads && this.manager !== null) this.serialize(() => this.stopManager('no longer the coordinator primary'));
  }

  async stop(): Promise<void> {
    this.serialize(() => this.stopManager('agent stopping'));
    await this.transitions.idle();
  }

  /** Queues a start or stop of the manager; a failure is logged, and the next one runs anyway. */
  private serialize(fn: () => Promise<void>): void {
    void this.transitions.run(fn).catch((err: unknown) => {
      this.deps.log.error({ err: errorText(err) }, 'Citus manager transition failed');
    });
  }

  /** A worker's Citus database as the superuser, with timeouts short enough for a 500 ms probe. */
  private async probeConnection(host: string, port: number): Promise<pg.Client> {
    const { superuser } = this.deps.config.postgresql.authentication;
    const client = new pg.Client({
      host,
      port,
      user: superuser.username,
      password: superuser.password,
      database: this.deps.citus.database,
      application_name: 'shardherd-worker-probe',
      connectionTimeoutMillis: 400,
      query_timeout: 400,
    });
    // A probe connection that breaks is replaced by the next round; its error is the probe's result.
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  private async startManager(): Promise<void> {
    if (this.manager !== null) return;
    const { dcs, node, citus, log } = this.deps;
    const manager = new CitusManager({
      dcs,
      connect: () => node.connect(citus.database),
      logger: log,
      retryTimeout: this.dynamic.retry_timeout,
      // A vanished worker leader key: a new leader normally registers within ttl.
      pause: { unplanned: { timeout: this.dynamic.ttl, cooldownMs: this.dynamic.retry_timeout * 1000 } },
      failure: {
        connect: (host, port) => this.probeConnection(host, port),
        // The coordinator group's dynamic config as of the last cycle.
        settings: () => ({
          pauseOnFailure: this.dynamic.citus.pause_on_worker_failure,
          probeCount: this.dynamic.citus.failure_probe_count,
          timeoutMs: (this.dynamic.citus.failure_pause_timeout ?? this.dynamic.ttl + 10) * 1000,
        }),
      },
      observer: this.deps.observer,
      scale: () => ({
        rebalanceOnJoin: this.dynamic.citus.rebalance_on_join,
        transferMode: this.dynamic.citus.shard_transfer_mode,
      }),
    });
    this.manager = manager;
    try {
      await manager.start();
      log.info({ action: 'citus-manager', role: 'primary' }, 'Citus manager started');
    } catch (err) {
      this.manager = null;
      await manager.stop().catch(() => undefined);
      throw err;
    }
  }

  /**
   * On a group primary, keeps the superuser's pg_dist_authinfo row equal to the configured
   * password: once per lead (a replica promoted after a password change has the old row) and
   * after a reload changed the password. A replica does nothing: the row streams to it.
   */
  private keepAuthinfo(leads: boolean): void {
    const state = this.authinfo;
    if (!leads) {
      if (state.done !== null || state.running) state.term++;
      state.done = null;
      return;
    }
    const password = this.deps.config.postgresql.authentication.superuser.password;
    if (state.running || (state.done !== null && state.done.password === password)) return;
    state.running = true;
    const term = state.term;
    void this.writeAuthinfo(password, term).finally(() => {
      state.running = false;
    });
  }

  private async writeAuthinfo(password: string | undefined, term: number): Promise<void> {
    const { node, citus, log } = this.deps;
    const fields = { action: 'citus-authinfo', group: citus.group };
    try {
      const client = await node.connect(citus.database);
      let action: AuthinfoAction;
      try {
        action = await keepAuthinfo(client, password);
      } finally {
        await client.end().catch(() => undefined);
      }
      if (action.kind === 'none') log.debug(fields, 'pg_dist_authinfo already matches the superuser password');
      else {
        const what = action.kind === 'upsert' ? 'superuser password written' : 'superuser row deleted';
        log.info({ ...fields, reason: action.reason }, `pg_dist_authinfo: ${what}`);
      }
      this.authinfo.failure = null;
      if (this.authinfo.term === term) this.authinfo.done = { password };
    } catch (err) {
      // Tried again next cycle; a failure that repeats is logged once.
      const why = errorText(err);
      if (why !== this.authinfo.failure) log.warn({ ...fields, err: why }, 'cannot update pg_dist_authinfo yet');
      this.authinfo.failure = why;
    }
  }

  /** Sends a pause-protocol event to the coordinator leader and logs the outcome; never throws. */
  private async notify(
    type: CitusEventBody['type'],
    dynamic: DynamicConfig,
    timeoutMs: number,
  ): Promise<NotifyOutcome> {
    const { dcs, citus, config, log } = this.deps;
    const body: CitusEventBody = {
      type,
      group: citus.group,
      leader: config.name,
      timeout: dynamic.ttl,
      cooldown: dynamic.retry_timeout,
    };
    let outcome: NotifyOutcome;
    try {
      const view = await dcs.loadCluster({ allGroups: true });
      outcome = await notifyCoordinator(view, body, timeoutMs, config.restapi.authentication);
    } catch (err) {
      outcome = { kind: 'noCoordinator', why: `cannot read the coordinator group from etcd: ${errorText(err)}` };
    }
    const fields = { action: type, group: citus.group };
    if (outcome.kind === 'answered' && outcome.ok)
      log.info({ ...fields, coordinator: outcome.coordinator, duration_ms: outcome.ms }, `${type}: ${outcome.message}`);
    else if (outcome.kind === 'answered')
      log.warn(
        { ...fields, coordinator: outcome.coordinator, status: outcome.status, duration_ms: outcome.ms },
        `${type} refused: ${outcome.message}`,
      );
    else if (outcome.kind === 'failed')
      log.warn(
        { ...fields, coordinator: outcome.coordinator, duration_ms: outcome.ms, err: outcome.error },
        `${type} failed`,
      );
    else log.warn(fields, `${type} not sent: ${outcome.why}`);
    return outcome;
  }

  private async stopManager(reason: string): Promise<void> {
    const manager = this.manager;
    if (manager === null) return;
    this.manager = null;
    await manager.stop();
    this.deps.log.info({ action: 'citus-manager', reason }, 'Citus manager stopped');
  }
}

/** The server's major version (`postgres (PostgreSQL) 15.8` -> `15`). */
function serverMajor(postgresPath: string): string {
  const out = execFileSync(postgresPath, ['--version'], { encoding: 'utf8' });
  return /(\d+)(?:\.\d+)?/.exec(out)?.[1] ?? '';
}
