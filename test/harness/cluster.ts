// Test clusters of real Shardherd agents: one generated configuration per member, the agent
// started as the unprivileged user, and the ways a test crashes, freezes or asks a member.

import { appendFileSync, readFileSync } from 'node:fs';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import pg from 'pg';
import type { QueryResult, QueryResultRow } from 'pg';
import type { NodeStatus } from '../../src/api/status.ts';
import { keyLayout, KEY } from '../../src/dcs/keys.ts';
import { startStandInSync, type StandInSync } from '../../scripts/standInSync.ts';
import { onCleanup } from './cleanup.ts';
import { startEtcd, type EtcdServer } from './etcd.ts';
import {
  CITUS_DATABASE,
  CLUSTER_PASSWORDS,
  memberConfigYaml,
  type ClusterTiming,
  type TagValues,
} from './memberConfig.ts';
import { waitFor } from './poll.ts';
import { freePort } from './ports.ts';
import { resolvePgBinDir } from './postgres.ts';
import { MARKER_ENV, spawnManaged, type ManagedProcess } from './processes.ts';
import { environValue, isAlive } from './procfs.ts';
import { TestPgBouncer } from './pgbouncer.ts';
import { TcpProxy } from './tcpProxy.ts';
import { tempDir } from './tempDir.ts';
import { unprivilegedUser } from './user.ts';
import { errorText } from '../../src/errors.ts';
import { getJson, httpRequest } from '../../src/httpClient.ts';

/** The repository this harness belongs to; the agent runs from its sources. */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const AGENT_MAIN = join(REPO_ROOT, 'src/cli/main.ts');

/** Fast failure detection without flapping on a busy machine: 1 + 2*4 <= 10. */
const DEFAULT_TIMING: ClusterTiming = { ttl: 10, loopWait: 1, retryTimeout: 4 };

export interface StartClusterOptions {
  /** Default: a fresh name per cluster, so clusters can share one etcd. */
  scope?: string;
  /** Citus groups (0 = coordinator); without, one group and no Citus. */
  groups?: number[];
  membersPerGroup?: number;
  ttl?: number;
  loopWait?: number;
  retryTimeout?: number;
  /** Merged into `bootstrap.dcs` (maps recursively), e.g. `{postgresql: {parameters: {...}}}`. */
  dcsExtra?: Record<string, unknown>;
  /** Merged into each member's own `postgresql` section, e.g. `{remove_data_directory_on_rewind_failure: true}`. */
  postgresqlExtra?: Record<string, unknown>;
  /** Merged into each member's `restapi` section, e.g. `{authentication: {username, password}}`. */
  restapiExtra?: Record<string, unknown>;
  /** Tags of a member; index is its 0-based position in its group (name `m<index+1>`). */
  tags?: (group: number | null, index: number) => TagValues;
  /** `bootstrap.dcs.postgresql.use_pg_rewind` (default true). */
  usePgRewind?: boolean;
  /** Default: a new etcd for this cluster. */
  etcd?: EtcdServer;
  /** The agents' `log.level` (default debug). */
  logLevel?: string;
  /**
   * A PgBouncer beside every member of a Citus cluster (`citus.pooler` names it), started with
   * the member and killed with it by killAll().
   */
  poolers?: boolean;
  /**
   * Members reached by everyone else through a TCP proxy (their `connect_address`), so a test
   * can blackhole them (`member.proxy.blackhole(ms)`) while they and their agents carry on.
   */
  proxied?: (group: number | null, index: number) => boolean;
  /**
   * The agent's command line for a configuration file (default: `agent -c FILE` of the sources
   * through tsx), e.g. the compiled build's, or another agent reading the same YAML.
   */
  agentCommand?: (configPath: string) => readonly string[];
}

export interface QueryOptions {
  /** Default `postgres`; Citus clusters keep their tables in `citus`. */
  database?: string;
}

let clusterCounter = 0;

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function tail(text: string, chars: number): string {
  return text.length <= chars ? text : `...${text.slice(-chars)}`;
}

/** One member: its configuration, its agent process and direct access to its PostgreSQL. */
export class TestMember {
  readonly name: string;
  /** Citus group, or null without Citus. */
  readonly group: number | null;
  /** Position in its group, from 0. */
  readonly index: number;
  /** The member's directory: config, agent log, data_dir, pgpass, unix socket. */
  readonly dir: string;
  readonly configPath: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly pgPort: number;
  readonly apiPort: number;
  /** `http://127.0.0.1:<apiPort>` (https when the cluster serves its REST API over TLS), without a trailing slash. */
  readonly apiUrl: string;
  /** Every agent process started for this member, the current one last. */
  readonly #runs: ManagedProcess[] = [];
  /** The stand-in's metadata sync beside this member's PostgreSQL (Citus members only). */
  #standInSync: StandInSync | undefined;
  /** The PgBouncer beside this member's PostgreSQL, when the cluster has poolers. */
  readonly pooler: TestPgBouncer | null;
  /** Why the pooler did not come up at the last start, if it did not. */
  poolerError: Error | null = null;
  /** The TCP proxy others reach this member through, when the cluster was started with one for it. */
  proxy: TcpProxy | null = null;
  readonly #agentCommand: (configPath: string) => readonly string[];

  constructor(fields: {
    name: string;
    group: number | null;
    index: number;
    dir: string;
    pgPort: number;
    apiPort: number;
    poolerPort?: number;
    agentCommand?: (configPath: string) => readonly string[];
    /** The REST API is served over TLS (restapi.certfile). */
    https?: boolean;
  }) {
    this.name = fields.name;
    this.#agentCommand =
      fields.agentCommand ?? ((config) => [process.execPath, '--import', 'tsx', AGENT_MAIN, 'agent', '-c', config]);
    this.group = fields.group;
    this.index = fields.index;
    this.dir = fields.dir;
    this.configPath = join(fields.dir, 'config.yml');
    this.dataDir = join(fields.dir, 'data');
    this.logFile = join(fields.dir, 'agent.log');
    this.pgPort = fields.pgPort;
    this.apiPort = fields.apiPort;
    this.apiUrl = `${fields.https ? 'https' : 'http'}://127.0.0.1:${fields.apiPort}`;
    this.pooler =
      fields.poolerPort === undefined
        ? null
        : new TestPgBouncer({
            name: this.name,
            dir: join(fields.dir, 'pgbouncer'),
            listenPort: fields.poolerPort,
            serverPort: fields.pgPort,
            user: 'postgres',
            password: CLUSTER_PASSWORDS.superuser,
          });
  }

  /** The current (or last) agent process, if one was started. */
  get agent(): ManagedProcess | undefined {
    return this.#runs.at(-1);
  }

  /** True while the current agent process exists (also while paused). */
  get running(): boolean {
    return this.agent?.running === true;
  }

  /** Starts the agent as the unprivileged user; its output goes to `logFile`. */
  start(): void {
    if (this.running) throw new Error(`${this.name}: the agent is already running`);
    const [program, ...args] = this.#agentCommand(this.configPath);
    const agent = spawnManaged(
      program!,
      args,
      // The repository as cwd: `--import tsx` resolves from there.
      { name: `agent ${this.name}`, asUnprivileged: true, cwd: REPO_ROOT, logFile: this.logFile },
    );
    this.#runs.push(agent);
    this.#startStandInSync();
    this.poolerError = null;
    // PgBouncer comes up on its own; it answers once PostgreSQL does.
    this.pooler?.start().catch((err: unknown) => {
      this.poolerError = err instanceof Error ? err : new Error(String(err));
    });
  }

  /**
   * Citus runs its metadata sync in every server; the stand-in needs it run beside each one.
   * Started once per member, it follows the server through restarts and does nothing on real Citus.
   */
  #startStandInSync(): void {
    if (this.group === null || this.#standInSync !== undefined) return;
    const logFile = join(this.dir, 'stand-in-sync.log');
    const sync = startStandInSync({
      host: '127.0.0.1',
      port: this.pgPort,
      user: 'postgres',
      password: CLUSTER_PASSWORDS.superuser,
      database: CITUS_DATABASE,
      log: (line) => appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`),
    });
    this.#standInSync = sync;
    onCleanup(`stand-in sync of ${this.name}`, () => sync.stop());
  }

  /** Graceful stop: SIGTERM to the agent alone, which shuts its PostgreSQL down itself. */
  async stop(timeoutMs = 60_000): Promise<void> {
    const agent = this.agent;
    if (agent === undefined || !agent.running) return;
    agent.kill('SIGTERM', 'process');
    // A paused agent would hold the signal until continued.
    agent.kill('SIGCONT', 'process');
    const exited = await Promise.race([
      agent.exited.then(() => true),
      new Promise<boolean>((done) => setTimeout(() => done(false), timeoutMs).unref()),
    ]);
    if (!exited)
      throw new Error(`${this.name}: the agent did not exit within ${timeoutMs} ms of SIGTERM\n${this.log()}`);
  }

  /**
   * Node death: SIGKILL to the agent, its PostgreSQL and everything else this member's agents
   * ever started (a postmaster adopted from an earlier agent included); waits until all are gone.
   */
  async killAll(): Promise<void> {
    const postmaster = this.postmasterPid();
    await this.pooler?.kill();
    for (const run of this.#runs) run.kill('SIGKILL', 'tree');
    if (postmaster !== null) signalPid(postmaster, 'SIGKILL');
    await waitFor(
      () => this.#runs.every((run) => run.treePids().length === 0) && (postmaster === null || !isAlive(postmaster)),
      { timeout: 10_000, interval: 50, message: `${this.name}: every process is gone after SIGKILL` },
    );
    // The exit events follow the deaths; after them `running` is false.
    await Promise.all(this.#runs.map((run) => run.exited));
  }

  /** SIGKILL to the agent process only: its PostgreSQL keeps running, without supervision. */
  async killAgentOnly(): Promise<void> {
    const agent = this.agent;
    if (agent === undefined || !agent.running) throw new Error(`${this.name}: the agent is not running`);
    agent.kill('SIGKILL', 'process');
    await agent.exited;
  }

  /** SIGSTOP to the agent process only: a frozen agent whose PostgreSQL still serves. */
  pause(): void {
    const agent = this.agent;
    if (agent === undefined || !agent.running) throw new Error(`${this.name}: the agent is not running`);
    agent.kill('SIGSTOP', 'process');
  }

  /** SIGCONT to the agent process. */
  resume(): void {
    const agent = this.agent;
    if (agent === undefined || !agent.running) throw new Error(`${this.name}: the agent is not running`);
    agent.kill('SIGCONT', 'process');
  }

  /**
   * The pid in data_dir/postmaster.pid when that process is alive and was started by one of
   * this member's agents; null otherwise (no file, a stale file, or a pid reused by another).
   */
  postmasterPid(): number | null {
    let text: string;
    try {
      text = readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8');
    } catch {
      return null;
    }
    const pid = Number(text.split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null;
    const tag = environValue(pid, MARKER_ENV);
    return this.#runs.some((run) => run.tag === tag) ? pid : null;
  }

  /** Sends `signal` to the postmaster alone (the agent lives on); after SIGKILL, waits until it is gone. */
  async killPostgres(signal: NodeJS.Signals = 'SIGKILL'): Promise<number> {
    const pid = this.postmasterPid();
    if (pid === null) throw new Error(`${this.name}: no running postmaster`);
    signalPid(pid, signal);
    if (signal === 'SIGKILL') {
      await waitFor(() => !isAlive(pid), {
        timeout: 10_000,
        interval: 50,
        message: `${this.name}: postmaster ${pid} is gone`,
      });
    }
    return pid;
  }

  /** One statement on a fresh connection as postgres/'super' over TCP, closed afterwards. */
  async query<R extends QueryResultRow = QueryResultRow>(
    sql: string,
    params?: unknown[],
    opts: QueryOptions = {},
  ): Promise<QueryResult<R>> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.pgPort,
      user: 'postgres',
      password: CLUSTER_PASSWORDS.superuser,
      database: opts.database ?? 'postgres',
      connectionTimeoutMillis: 3000,
      // A frozen server must fail the test, not hang it.
      query_timeout: 60_000,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      return await client.query<R>(sql, params);
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** `GET /patroni`, or null when the agent does not answer. */
  async status(): Promise<NodeStatus | null> {
    try {
      const res = await getJson(`${this.apiUrl}/patroni`, 2000);
      return res.status === 200 ? (res.body as NodeStatus) : null;
    } catch {
      return null;
    }
  }

  /** The status code of `GET <apiUrl><path>` (e.g. `/primary`, `/replica?lag=1MB`), 0 without an answer. */
  async health(path: string): Promise<number> {
    try {
      return (await httpRequest(`${this.apiUrl}${path}`, { timeoutMs: 2000 })).status;
    } catch {
      return 0;
    }
  }

  /** The end of the agent log (all runs of this member). */
  log(chars = 4000): string {
    try {
      return tail(readFileSync(this.logFile, 'utf8'), chars);
    } catch {
      return '';
    }
  }

  /** One line for failure messages: the agent's process state and what its API says. */
  async describe(): Promise<string> {
    const agent = this.agent;
    let agentState: string;
    if (agent === undefined) agentState = 'never started';
    else if (agent.running) agentState = `agent pid ${agent.pid}`;
    else {
      const exit = await agent.exited;
      agentState = `agent exited (code ${exit.code}, signal ${exit.signal})`;
    }
    const status = await this.status();
    const api = status === null ? 'no API answer' : `role ${status.role}, state ${status.state}`;
    return `${this.name}: ${agentState}, ${api}`;
  }
}

/** What every member of one cluster shares, kept so that groups can be added later. */
interface MemberSettings {
  timing: ClusterTiming;
  usePgRewind: boolean;
  dcsExtra: Record<string, unknown>;
  postgresqlExtra: Record<string, unknown>;
  restapiExtra: Record<string, unknown>;
  tags: StartClusterOptions['tags'];
  binDir: string;
  logLevel: string;
  membersPerGroup: number;
  poolers: boolean;
  proxied: StartClusterOptions['proxied'];
  agentCommand: StartClusterOptions['agentCommand'];
}

/** A set of members sharing one scope (and one etcd), not started until asked. */
export class TestCluster {
  readonly scope: string;
  readonly etcd: EtcdServer;
  /** The cluster's temp dir; each member has a subdirectory named after it. */
  readonly dir: string;
  readonly #members: TestMember[];
  readonly #settings: MemberSettings;

  constructor(scope: string, etcd: EtcdServer, dir: string, members: TestMember[], settings: MemberSettings) {
    this.scope = scope;
    this.etcd = etcd;
    this.dir = dir;
    this.#members = members;
    this.#settings = settings;
  }

  /** Every member, those of groups added later included. */
  get members(): readonly TestMember[] {
    return this.#members;
  }

  /**
   * Scale-out: writes the configurations of a new Citus group (same scope, etcd and settings)
   * and returns its members, not started. `count` defaults to the cluster's membersPerGroup.
   */
  async addGroup(group: number, count = this.#settings.membersPerGroup): Promise<TestMember[]> {
    if (!this.citus) throw new Error(`${this.scope}: groups can only be added to a Citus cluster`);
    if (this.#members.some((m) => m.group === group)) throw new Error(`${this.scope}: group ${group} exists already`);
    const added: TestMember[] = [];
    for (let index = 0; index < count; index++) {
      added.push(await writeMember(this.scope, this.etcd, this.dir, group, index, this.#settings));
    }
    this.#members.push(...added);
    return added;
  }

  /** True when the cluster runs Citus (was started with groups). */
  get citus(): boolean {
    return this.members.some((m) => m.group !== null);
  }

  member(name: string): TestMember {
    const found = this.members.find((m) => m.name === name);
    if (found === undefined) throw new Error(`no member ${name} in ${this.scope}`);
    return found;
  }

  /** The members of a Citus group (null: all members of a cluster without Citus). */
  group(group: number | null): TestMember[] {
    return this.members.filter((m) => m.group === group);
  }

  startAll(): void {
    for (const m of this.members) if (!m.running) m.start();
  }

  async stopAll(timeoutMs?: number): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop(timeoutMs)));
  }

  /** Failure detail: one line per member of the group, plus the agents' log tails. */
  async describeGroup(group: number | null, logChars = 1500): Promise<string> {
    const members = this.group(group);
    const lines = await Promise.all(members.map((m) => m.describe()));
    const logs = members.map((m) => `--- ${m.name} log ---\n${m.log(logChars)}`);
    return [...lines, ...logs].join('\n');
  }
}

/**
 * Writes one configuration per member and starts etcd if none is given; no agent is started.
 * Names are `m1`, `m2`, ... without Citus and `g<group>-m<n>` with it.
 */
export async function startCluster(opts: StartClusterOptions = {}): Promise<TestCluster> {
  const groups: (number | null)[] = opts.groups === undefined ? [null] : [...opts.groups];
  if (groups.length === 0) throw new Error('startCluster: groups must not be empty');
  const perGroup = opts.membersPerGroup ?? 3;
  const timing: ClusterTiming = {
    ttl: opts.ttl ?? DEFAULT_TIMING.ttl,
    loopWait: opts.loopWait ?? DEFAULT_TIMING.loopWait,
    retryTimeout: opts.retryTimeout ?? DEFAULT_TIMING.retryTimeout,
  };
  const scope = opts.scope ?? `cluster-${process.pid}-${++clusterCounter}`;
  const etcd = opts.etcd ?? (await startEtcd());
  // Short: the unix socket path below it must stay under 108 bytes.
  const dir = await tempDir('shardherd-cl');

  const settings: MemberSettings = {
    timing,
    usePgRewind: opts.usePgRewind ?? true,
    dcsExtra: opts.dcsExtra ?? {},
    postgresqlExtra: opts.postgresqlExtra ?? {},
    restapiExtra: opts.restapiExtra ?? {},
    tags: opts.tags,
    binDir: resolvePgBinDir(),
    logLevel: opts.logLevel ?? 'debug',
    membersPerGroup: perGroup,
    poolers: opts.poolers === true && opts.groups !== undefined,
    proxied: opts.proxied,
    agentCommand: opts.agentCommand,
  };
  const members: TestMember[] = [];
  for (const group of groups) {
    for (let index = 0; index < perGroup; index++)
      members.push(await writeMember(scope, etcd, dir, group, index, settings));
  }
  return new TestCluster(scope, etcd, dir, members, settings);
}

/** Creates one member's directory and writes its configuration; nothing is started. */
async function writeMember(
  scope: string,
  etcd: EtcdServer,
  clusterDir: string,
  group: number | null,
  index: number,
  settings: MemberSettings,
): Promise<TestMember> {
  const name = group === null ? `m${index + 1}` : `g${group}-m${index + 1}`;
  const member = new TestMember({
    name,
    group,
    index,
    dir: join(clusterDir, name),
    pgPort: await freePort(),
    apiPort: await freePort(),
    ...(settings.poolers && { poolerPort: await freePort() }),
    agentCommand: settings.agentCommand,
    https: settings.restapiExtra.certfile !== undefined,
  });
  // The agent (unprivileged) creates data_dir, pgpass and its socket in here.
  await mkdir(member.dir);
  if (settings.proxied?.(group, index) === true) member.proxy = await TcpProxy.start(await freePort(), member.pgPort);
  const user = unprivilegedUser();
  if (user !== null) await chown(member.dir, user.uid, user.gid);
  const yaml = memberConfigYaml({
    scope,
    name,
    group,
    memberDir: member.dir,
    pgPort: member.pgPort,
    apiPort: member.apiPort,
    etcdClientPort: etcd.clientPort,
    timing: settings.timing,
    usePgRewind: settings.usePgRewind,
    dcsExtra: settings.dcsExtra,
    postgresqlExtra: settings.postgresqlExtra,
    restapiExtra: settings.restapiExtra,
    tags: settings.tags?.(group, index) ?? {},
    binDir: settings.binDir,
    logLevel: settings.logLevel,
    poolerPort: member.pooler?.port,
    connectPort: member.proxy?.port,
  });
  await writeFile(member.configPath, yaml, { mode: 0o644 });
  return member;
}

async function isWritablePrimary(member: TestMember): Promise<boolean> {
  if ((await member.health('/primary')) !== 200) return false;
  const result = await member.query<{ primary: boolean }>('select not pg_is_in_recovery() as primary');
  return result.rows[0]?.primary === true;
}

async function isStreamingReplica(member: TestMember): Promise<boolean> {
  const status = await member.status();
  if (status === null || status.role !== 'replica' || !['running', 'streaming'].includes(status.state)) return false;
  const result = await member.query<{ streaming: boolean }>(
    'select pg_is_in_recovery() and exists ' +
      "(select 1 from pg_stat_wal_receiver where status = 'streaming') as streaming",
  );
  return result.rows[0]?.streaming === true;
}

/** waitFor with the group's state and agent logs appended to the timeout error. */
async function waitForGroup<T>(
  cluster: TestCluster,
  group: number | null,
  fn: () => Promise<T | undefined>,
  opts: { timeout: number; message: string },
): Promise<T> {
  let value: T | undefined;
  try {
    value = await waitFor(fn, { timeout: opts.timeout, interval: 200, message: opts.message });
  } catch (err) {
    const detail = await cluster.describeGroup(group);
    throw new Error(`${errorText(err)}\n${detail}`, { cause: err });
  }
  // waitFor returns only truthy values.
  if (value === undefined) throw new Error(opts.message);
  return value;
}

function groupName(group: number | null): string {
  return group === null ? 'the cluster' : `group ${group}`;
}

/**
 * The one member of the group whose agent answers 200 on `/primary` and whose PostgreSQL says
 * it is not in recovery; waits until there is exactly one.
 */
export async function waitForLeader(
  cluster: TestCluster,
  group: number | null,
  opts: { timeout: number },
): Promise<TestMember> {
  const members = cluster.group(group);
  return waitForGroup(
    cluster,
    group,
    async () => {
      const flags = await Promise.all(members.map((m) => isWritablePrimary(m).catch(() => false)));
      const leaders = members.filter((_, i) => flags[i]);
      return leaders.length === 1 ? leaders[0] : undefined;
    },
    { timeout: opts.timeout, message: `one leader in ${groupName(group)} of ${cluster.scope}` },
  );
}

/**
 * Waits until `count` members of the group (default: all but one) run as replicas that stream
 * WAL (the agent says role replica, PostgreSQL has a streaming WAL receiver); returns them.
 */
export async function waitForReplicas(
  cluster: TestCluster,
  group: number | null,
  opts: { timeout: number; count?: number },
): Promise<TestMember[]> {
  const members = cluster.group(group);
  const count = opts.count ?? members.length - 1;
  return waitForGroup(
    cluster,
    group,
    async () => {
      const flags = await Promise.all(members.map((m) => isStreamingReplica(m).catch(() => false)));
      const replicas = members.filter((_, i) => flags[i]);
      return replicas.length >= count ? replicas : undefined;
    },
    { timeout: opts.timeout, message: `${count} streaming replicas in ${groupName(group)} of ${cluster.scope}` },
  );
}

/** The member name in the group's leader key, or null when there is no leader key. */
export async function readLeaderKey(
  etcd: Pick<EtcdServer, 'endpoint'>,
  scope: string,
  group: number | null,
): Promise<string | null> {
  const key = keyLayout({ namespace: 'service', scope, group }).key(KEY.leader);
  const client = new Etcd3({ hosts: etcd.endpoint });
  try {
    return await client.get(key).string();
  } finally {
    client.close();
  }
}
