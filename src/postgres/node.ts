// One member's PostgreSQL as the HA executor drives it: binaries, data directory, managed
// configuration, the supervised postmaster, the agent's own connection, and the long tasks
// (initdb, clone, rewind). Everything here acts on this node only; deciding is the HA layer's job.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import pg from 'pg';
import type { DynamicConfig, HostPort, InitdbOption, PostgresqlConfig, Scalar, UserAuth } from '../config/types.ts';
import { PostgresError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { basebackup } from './basebackup.ts';
import { resolveBinaries, type PgBinaries } from './binaries.ts';
import { CloneWatch } from './cloneWatch.ts';
import { clientConfig, type ConnParams } from './connInfo.ts';
import { readControlData, type ControlData } from './controlData.ts';
import { setStandbySignal, writeManagedConfig } from './configFiles.ts';
import { dataDirectoryState, removeDataDirectory, type DataDirState } from './dataDir.ts';
import { initdb } from './initdb.ts';
import { writePgpass } from './pgpass.ts';
import { PostgresProcess, type StartResult, type StopMode } from './process.ts';
import {
  readStatus,
  readStatusReport,
  replicationState,
  systemIdentifier,
  type PgStatus,
  type ReplicationState,
  type StatusReport,
} from './queries.ts';
import { rewind, type RewindResult } from './rewind.ts';
import { bootstrapRoles } from './roles.ts';
import { syncSlots, type SlotSyncResult } from './slots.ts';

/** Where a replica streams from; `upstream` null means "standby with nothing to follow yet". */
export interface ReplicaTarget {
  upstream: HostPort | null;
  slotName: string | null;
}

export interface PostgresNodeOptions {
  name: string;
  config: PostgresqlConfig;
  log?: Logger;
  /** Settings layered over the user's (e.g. what Citus needs), given the user's; read at every render. */
  extraParameters?: (parameters: Record<string, Scalar>) => Record<string, Scalar>;
}

const QUERY_TIMEOUT_MS = 5000;
/** How long a reload may take to reach this server's backends. */
const RELOAD_TIMEOUT_MS = 5000;

/** synchronous_standby_names before the HA loop chose standbys: `*` in strict mode, '' in sync mode, else null. */
function initialSyncStandbyNames(dynamic: DynamicConfig): string | null {
  if (dynamic.synchronous_mode === 'off') return null;
  return dynamic.synchronous_mode_strict ? '*' : '';
}

export class PostgresNode {
  readonly name: string;
  readonly config: PostgresqlConfig;
  readonly bin: PgBinaries;
  readonly process: PostgresProcess;
  /** The clone in flight and its progress. */
  readonly cloning: CloneWatch;
  private readonly log: Logger;
  private readonly extraParameters: (parameters: Record<string, Scalar>) => Record<string, Scalar>;
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private cachedSystemId: string | null = null;
  /** What the configuration on disk says this node follows (null when it is configured as primary). */
  private configuredTarget: ReplicaTarget | null = null;
  /** synchronous_standby_names as the HA loop set it on this primary; null: not set since it became one. */
  private syncStandbyNames: string | null = null;

  constructor(options: PostgresNodeOptions) {
    this.name = options.name;
    this.config = options.config;
    this.log = options.log ?? silentLogger;
    this.cloning = new CloneWatch(this.log);
    this.extraParameters = options.extraParameters ?? (() => ({}));
    this.bin = resolveBinaries(options.config.bin_dir);
    this.process = new PostgresProcess({ bin: this.bin, dataDir: options.config.data_dir, log: this.log });
  }

  get dataDir(): string {
    return this.config.data_dir;
  }

  get isRunning(): boolean {
    return this.process.state.kind !== 'stopped';
  }

  /** The replica target written by the last render, or null when rendered as a primary. */
  get target(): ReplicaTarget | null {
    return this.configuredTarget;
  }

  // ---- inspection ---------------------------------------------------------------------

  dataState(): Promise<DataDirState> {
    return dataDirectoryState(this.dataDir);
  }

  controlData(): Promise<ControlData> {
    return readControlData(this.bin, this.dataDir);
  }

  /** How the agent itself connects: as the superuser, over TCP to the first listen address. */
  localConnParams(database = 'postgres'): ConnParams {
    const su = this.config.authentication.superuser;
    return {
      host: localHost(this.config.listen.hosts),
      port: this.config.listen.port,
      user: su.username,
      password: su.password,
      database,
      application_name: 'shardherd',
      connect_timeout: 3,
    };
  }

  /** A fresh connection owned by the caller (e.g. the Citus manager's dedicated one). */
  async connect(database = 'postgres'): Promise<pg.Client> {
    const client = new pg.Client({ ...clientConfig(this.localConnParams(database)), query_timeout: QUERY_TIMEOUT_MS });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  /** The agent's shared connection, opened on demand and dropped on any error. */
  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    const client = await this.sharedClient();
    try {
      return await client.query<R>(sql, params);
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && typeof (err as { code: unknown }).code === 'string'))
        this.dropClient(client);
      throw err;
    }
  }

  async status(): Promise<PgStatus> {
    return readStatus(await this.sharedClient());
  }

  /** Status, start time, version and walsenders for the REST API, in one query. */
  async statusReport(): Promise<StatusReport> {
    return readStatusReport(await this.sharedClient());
  }

  async systemId(): Promise<string> {
    if (this.cachedSystemId === null) this.cachedSystemId = await systemIdentifier(await this.sharedClient());
    return this.cachedSystemId;
  }

  async closeConnection(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.connecting = null;
    if (client) await client.end().catch(() => undefined);
  }

  // ---- configuration ------------------------------------------------------------------

  /** Renders postgresql.conf, pg_hba.conf and standby.signal for the given role. Returns whether anything changed. */
  async writeConfig(dynamic: DynamicConfig, target: ReplicaTarget | null): Promise<boolean> {
    const replication = this.config.authentication.replication;
    const useRewind = this.config.use_pg_rewind ?? dynamic.postgresql.use_pg_rewind;
    const parameters = { ...dynamic.postgresql.parameters, ...this.config.parameters };
    // A replica renders what a fresh primary must start with (ignored until it is promoted):
    // in strict mode commits wait for a standby from the first moment on.
    if (target !== null) this.syncStandbyNames = null;
    const ssn = this.syncStandbyNames ?? initialSyncStandbyNames(dynamic);
    if (ssn !== null) parameters.synchronous_standby_names = ssn;
    // primary_conninfo names the passfile; a member that never cloned (the bootstrap primary,
    // demoted later) would otherwise stream without a password and never connect.
    if (target?.upstream) await this.writePgpass();
    const { changed } = await writeManagedConfig(this.dataDir, {
      listen: this.config.listen,
      parameters: { ...parameters, ...this.extraParameters(parameters) },
      useRewind,
      standby:
        target === null
          ? null
          : {
              upstream: target.upstream,
              user: replication.username,
              memberName: this.name,
              passfile: this.config.pgpass,
              slotName: target.slotName,
            },
      hba: this.config.pg_hba ?? dynamic.postgresql.pg_hba ?? null,
    });
    this.configuredTarget = target;
    return changed;
  }

  /** Marks the data directory as a standby without touching anything else (after a demote). */
  async markStandby(): Promise<void> {
    await setStandbySignal(this.dataDir, true);
  }

  /** The pgpass file tools read replication and rewind passwords from. */
  async writePgpass(): Promise<void> {
    const auth = this.config.authentication;
    const users: UserAuth[] = [auth.replication, auth.superuser, ...(auth.rewind ? [auth.rewind] : [])];
    await mkdir(dirname(this.config.pgpass), { recursive: true, mode: 0o700 });
    await writePgpass(
      this.config.pgpass,
      users.map((user) => ({ host: '*', port: '*', database: '*', user })),
    );
  }

  // ---- process ------------------------------------------------------------------------

  async start(): Promise<StartResult> {
    this.cachedSystemId = null;
    return this.process.start({ timeoutMs: this.config.pg_ctl_timeout * 1000 });
  }

  /** Stops with `mode`, escalating to immediate when it does not finish within pg_ctl_timeout. */
  async stop(mode: StopMode): Promise<void> {
    await this.closeConnection();
    const timeoutMs = this.config.pg_ctl_timeout * 1000;
    const result = await this.process.stop(mode, { timeoutMs });
    if (result.kind !== 'timeout') return;
    this.log.warn(
      { action: 'stop', mode },
      `postgres did not stop within ${this.config.pg_ctl_timeout}s; stopping immediately`,
    );
    const again = await this.process.stop('immediate', { timeoutMs });
    if (again.kind === 'timeout') throw new PostgresError('stop', `postmaster ${again.pid} does not exit`);
  }

  async promote(): Promise<void> {
    await this.process.promote({ timeoutMs: this.config.pg_ctl_timeout * 1000 });
    this.configuredTarget = null;
  }

  reload(): void {
    this.process.reload();
  }

  /**
   * Sets synchronous_standby_names on this primary (null: what a fresh primary starts with),
   * renders it and reloads, and returns once this server runs with it.
   */
  async setSynchronousStandbyNames(value: string | null, dynamic: DynamicConfig): Promise<void> {
    this.syncStandbyNames = value;
    await this.writeConfig(dynamic, this.configuredTarget);
    this.reload();
    const wanted = value ?? initialSyncStandbyNames(dynamic);
    // The user's own value (synchronous mode off) is whatever their parameters say.
    if (wanted === null) return;
    const deadline = Date.now() + RELOAD_TIMEOUT_MS;
    for (;;) {
      const { rows } = await this.query<{ ssn: string }>(
        "SELECT pg_catalog.current_setting('synchronous_standby_names') AS ssn",
      );
      if (rows[0]?.ssn === wanted) return;
      if (Date.now() >= deadline) {
        throw new PostgresError('reload', `synchronous_standby_names is still "${rows[0]?.ssn}", not "${wanted}"`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Synchronous replication on this primary; whether the HA loop has set its standbys since it became one. */
  async replication(): Promise<ReplicationState & { managed: boolean }> {
    return { ...(await replicationState(await this.sharedClient())), managed: this.syncStandbyNames !== null };
  }

  /** A checkpoint right before a planned stop makes the shutdown checkpoint (and the outage) short. */
  async checkpoint(): Promise<void> {
    await this.query('CHECKPOINT');
  }

  // ---- long tasks ---------------------------------------------------------------------

  /** initdb, render as primary, start, create roles. Returns the new system identifier. */
  async bootstrap(dynamic: DynamicConfig, initdbOptions: InitdbOption[]): Promise<string> {
    await initdb(this.bin, {
      dataDir: this.dataDir,
      options: initdbOptions,
      superuser: this.config.authentication.superuser,
    });
    // Its own commits (roles, then the Citus extension) have no standby to wait for: strict
    // synchronous mode starts with the HA loop's first cycle as leader.
    await this.writeConfig({ ...dynamic, synchronous_mode_strict: false }, null);
    const started = await this.start();
    if (started.kind !== 'ready')
      throw new PostgresError('bootstrap', `postgres did not start: ${describeStart(started)}`);
    // initdb's pg_hba may only allow the OS user; the superuser connects over TCP with the configured rules.
    await bootstrapRoles(await this.sharedClient(), this.config.authentication);
    return this.systemId();
  }

  /** pg_basebackup from `source` into the empty data directory, then render as a replica of `target`. */
  async clone(source: HostPort, dynamic: DynamicConfig, target: ReplicaTarget): Promise<void> {
    await this.writePgpass();
    const state = await this.dataState();
    if (state.kind === 'initialized' || state.kind === 'foreign') await removeDataDirectory(this.dataDir);
    const { host, port } = source;
    const { username: user } = this.config.authentication.replication;
    const from = { host, port, user, passfile: this.config.pgpass, application_name: this.name, connect_timeout: 5 };
    const options = this.config.basebackup;
    const result = await this.cloning.run(source, (onProgress) =>
      basebackup(this.bin, { dataDir: this.dataDir, from, options, onProgress }),
    );
    if (result.kind === 'failed') throw new PostgresError('pg_basebackup', result.reason);
    await this.writeConfig(dynamic, target);
  }

  /** pg_rewind against `source` (a running primary), then render as its replica. */
  async rewind(source: HostPort, dynamic: DynamicConfig, target: ReplicaTarget): Promise<RewindResult> {
    if (this.isRunning) await this.stop('fast');
    await this.writePgpass();
    const auth = this.config.authentication;
    const user = auth.rewind ?? auth.superuser;
    const result = await rewind(this.bin, {
      dataDir: this.dataDir,
      source: {
        host: source.host,
        port: source.port,
        user: user.username,
        password: user.password,
        passfile: this.config.pgpass,
        connect_timeout: 5,
      },
    });
    // pg_rewind copies the source's configuration; render ours again whatever the outcome.
    await this.writeConfig(dynamic, target);
    return result;
  }

  async removeData(): Promise<void> {
    if (this.isRunning) await this.stop('immediate');
    await removeDataDirectory(this.dataDir);
    this.configuredTarget = null;
  }

  /** Physical slots on this primary for the other members (use_slots). */
  async syncSlots(members: string[]): Promise<SlotSyncResult> {
    return syncSlots(await this.sharedClient(), members);
  }

  // ---- internals ----------------------------------------------------------------------

  private async sharedClient(): Promise<pg.Client> {
    if (this.client) return this.client;
    if (this.connecting) return this.connecting;
    this.connecting = (async () => {
      const client = new pg.Client({ ...clientConfig(this.localConnParams()), query_timeout: QUERY_TIMEOUT_MS });
      client.on('error', () => this.dropClient(client));
      client.on('end', () => this.dropClient(client));
      try {
        await client.connect();
      } catch (err) {
        this.connecting = null;
        throw err;
      }
      this.client = client;
      this.connecting = null;
      return client;
    })();
    return this.connecting;
  }

  private dropClient(client: pg.Client): void {
    if (this.client === client) this.client = null;
    void client.end().catch(() => undefined);
  }
}

/** A wildcard listen address is reached through loopback. */
function localHost(hosts: string[]): string {
  const first = hosts[0] ?? '127.0.0.1';
  if (first === '*' || first === '0.0.0.0' || first === '') return '127.0.0.1';
  if (first === '::') return '::1';
  return first;
}

export function describeStart(result: StartResult): string {
  switch (result.kind) {
    case 'ready':
      return `ready (${result.status})`;
    case 'timeout':
      return 'still starting at the deadline';
    case 'exited':
      return (
        `exited (code ${result.exit.code ?? '-'}, signal ${result.exit.signal ?? '-'}): ` +
        result.output.trim().split('\n').slice(-3).join(' | ')
      );
  }
}
