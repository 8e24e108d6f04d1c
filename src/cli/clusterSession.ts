// What the commands that write to etcd share (edit-config, pause, resume, remove) and those that
// read one group's keys (show-config, history): the configuration found as for `list`, one etcd
// connection per Citus group they touch, and every etcd failure as one readable line.
import type { CtlConfig } from '../config/ctlConfig.ts';
import { etcdEndpoints } from '../dcs/etcdHttp.ts';
import { Dcs } from '../dcs/dcs.ts';
import type { ClusterView, GroupView } from '../dcs/types.ts';
import { groupOf } from '../dcs/view.ts';
import { configPathFrom, loadConfigLine } from './readCluster.ts';
import { DcsError, ShardherdError } from '../errors.ts';

export interface SessionOptions {
  /** `-c`; when absent, SHARDHERD_CONFIG, then PATRONICTL_CONFIG_FILE. */
  configPath?: string;
  /** `--group N` was given: the cluster is read as a Citus cluster even without `citus` in the file. */
  groupGiven?: boolean;
}

export class ClusterSession {
  readonly scope: string;
  /** Whether the cluster has Citus groups (configured `citus`, or `--group` given). */
  readonly citus: boolean;
  /** `citus.group` of the configuration; null without. */
  readonly configGroup: number | null;
  private readonly connections = new Map<string, Dcs>();

  constructor(
    private readonly config: CtlConfig,
    options: SessionOptions,
    path: string,
  ) {
    if (config.scope === null || config.scope === '') throw new ShardherdError(`no cluster name: set scope in ${path}`);
    this.scope = config.scope;
    this.citus = config.citus !== null || options.groupGiven === true;
    this.configGroup = config.citus?.group ?? null;
  }

  /** Where etcd is, for messages. */
  get hosts(): string {
    return this.config.etcd3.hosts.join(', ');
  }

  get retryTimeout(): number {
    return this.config.retryTimeout;
  }

  /** The connection whose own keys are those of `group` (null: a cluster without Citus). */
  dcs(group: number | null): Dcs {
    const g = this.citus ? group : null;
    const key = String(g);
    let dcs = this.connections.get(key);
    if (dcs === undefined) {
      dcs = new Dcs({
        ...etcdEndpoints(this.config.etcd3),
        namespace: this.config.namespace,
        scope: this.scope,
        group: g,
        retryTimeout: this.config.retryTimeout,
        // Never used: the commands take no lease.
        ttl: 30,
      });
      this.connections.set(key, dcs);
    }
    return dcs;
  }

  /** Runs one etcd operation; a failure becomes one line naming what was done and where. */
  async etcd<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (!(err instanceof DcsError)) throw err;
      const reason = err.message.replace(/\s+/g, ' ');
      throw new ShardherdError(
        `cannot ${what} of cluster ${this.scope} in etcd (${this.hosts}) within retry_timeout ` +
          `${this.config.retryTimeout} s: ${reason}`,
        { cause: err },
      );
    }
  }

  /** Every group of the cluster, with one range read. */
  readAll(): Promise<ClusterView> {
    return this.etcd('read the keys', () => this.dcs(this.configGroup ?? 0).loadCluster({ allGroups: true }));
  }

  /** One group's keys (empty when it has none), with one range read. */
  async readGroup(group: number | null): Promise<GroupView> {
    const g = this.citus ? group : null;
    const view = await this.etcd(`read the keys of ${groupName(g)}`, () => this.dcs(g).loadCluster());
    return groupOf(view, g);
  }

  close(): void {
    for (const dcs of this.connections.values()) dcs.close();
    this.connections.clear();
  }
}

/** `group 1`, or `the cluster` without Citus. */
export function groupName(group: number | null): string {
  return group === null ? 'the cluster' : `group ${group}`;
}

/** Opens a session on the configuration's cluster and runs `fn` with it; the connections close after. */
export async function withSession<T>(
  options: SessionOptions,
  fn: (session: ClusterSession) => Promise<T>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  const path = configPathFrom(options, env);
  const session = new ClusterSession(await loadConfigLine(path, env), options, path);
  try {
    return await fn(session);
  } finally {
    session.close();
  }
}
