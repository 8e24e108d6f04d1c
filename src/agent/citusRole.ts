// The Citus side of an agent: server settings and bootstrap of every group primary, and on the
// coordinator group the Citus manager, run only while this agent holds group 0's leader key
// with PostgreSQL running as primary.
import { execFileSync } from 'node:child_process';
import { citusInstalled, bootstrapCitus, COORDINATOR_GROUP } from '../citus/bootstrap.ts';
import { citusSettings } from '../citus/extension.ts';
import { CitusManager } from '../citus/manager.ts';
import type { CitusConfig, Config, Scalar } from '../config/types.ts';
import type { Dcs } from '../dcs/dcs.ts';
import type { HaHooks } from '../ha/execute.ts';
import type { HaSnapshot } from '../ha/loop.ts';
import type { Logger } from '../log.ts';
import type { PostgresNode } from '../postgres/node.ts';

export interface CitusRoleDeps {
  config: Config;
  citus: CitusConfig;
  node: PostgresNode;
  dcs: Dcs;
  log: Logger;
}

export class CitusRole {
  /** Whether the server has real Citus (decided once, before PostgreSQL first starts). */
  readonly available: boolean;
  private manager: CitusManager | null = null;
  private transition: Promise<void> = Promise.resolve();

  constructor(private readonly deps: CitusRoleDeps) {
    this.available = citusInstalled(deps.node.bin.dir, serverMajor(deps.node.bin.path('postgres')));
    if (!this.available) deps.log.warn('Citus is not installed here: group primaries get the SQL stand-in of its metadata API');
  }

  /** Settings Citus needs on every member, layered over the user's. */
  parameters(user: Record<string, Scalar>): Record<string, Scalar> {
    return citusSettings({
      citusAvailable: this.available,
      localHostname: this.deps.config.postgresql.connect_address.host,
      maxConnections: Number(user.max_connections ?? 100),
      sharedPreloadLibraries: typeof user.shared_preload_libraries === 'string' ? user.shared_preload_libraries : undefined,
      maxPreparedTransactions: user.max_prepared_transactions === undefined ? undefined : Number(user.max_prepared_transactions),
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
    };
  }

  /** After every HA cycle: start or stop the manager to match this member's role. */
  onCycle(snapshot: HaSnapshot): void {
    if (this.deps.citus.group !== COORDINATOR_GROUP) return;
    const leads =
      snapshot.lock.kind === 'held' &&
      snapshot.local?.kind === 'runningPrimary' &&
      snapshot.view?.leader?.name === this.deps.config.name;
    if (leads && this.manager === null) this.serialize(() => this.startManager());
    if (!leads && this.manager !== null) this.serialize(() => this.stopManager('no longer the coordinator primary'));
  }

  async stop(): Promise<void> {
    this.serialize(() => this.stopManager('agent stopping'));
    await this.transition;
  }

  private serialize(fn: () => Promise<void>): void {
    this.transition = this.transition.then(fn, fn).catch((err: unknown) => {
      this.deps.log.error({ err: err instanceof Error ? err.message : String(err) }, 'Citus manager transition failed');
    });
  }

  private async startManager(): Promise<void> {
    if (this.manager !== null) return;
    const { dcs, node, citus, log, config } = this.deps;
    const manager = new CitusManager({
      dcs,
      connect: () => node.connect(citus.database),
      logger: log,
      retryTimeout: config.bootstrap.dcs.retry_timeout,
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
