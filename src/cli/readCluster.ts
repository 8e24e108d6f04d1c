// What the read-only commands share: finding the configuration (-c or the environment), reading
// the cluster from etcd once, and turning every failure into one readable line.
import { InvalidArgumentError, Option } from 'commander';
import { loadCtlConfig, type CtlConfig } from '../config/ctlConfig.ts';
import type { UserAuth } from '../config/types.ts';
import { installMemberTls, readTlsMaterial } from '../memberTls.ts';
import { etcdEndpoints } from '../dcs/etcdHttp.ts';
import { Dcs } from '../dcs/dcs.ts';
import type { ClusterView } from '../dcs/types.ts';
import { ConfigError, DcsError, ShardherdError, errorText } from '../errors.ts';

export interface ReadClusterOptions {
  /** `-c`; when absent, SHARDHERD_CONFIG, then PATRONICTL_CONFIG_FILE. */
  configPath?: string;
  /** Cluster name from the command line; overrides the configuration's scope. */
  scope?: string;
  /** `--group N`: read that Citus group only. */
  group?: number;
}

export interface ClusterReading {
  view: ClusterView;
  scope: string;
  /** Whether the cluster is read as a Citus cluster (configured `citus`, or `--group`). */
  citus: boolean;
  /** The one group asked for, or null for all. */
  group: number | null;
  /** The file's restapi.authentication, for requests that act on members. */
  auth?: UserAuth;
}

/** Parser for `--group`: a Citus group number. */
export function parseGroupOption(value: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(value)) throw new InvalidArgumentError('expected a Citus group number (0, 1, ...)');
  return Number(value);
}

/** `-c, --config <file>`, as every command that reads the cluster takes it. */
export function configOption(): Option {
  return new Option(
    '-c, --config <file>',
    'configuration file or directory (default: $SHARDHERD_CONFIG, then $PATRONICTL_CONFIG_FILE)',
  );
}

/** `--group <n>`: a Citus group number. */
export function groupOption(description = 'only this Citus group'): Option {
  return new Option('--group <n>', description).argParser(parseGroupOption);
}

/** The configuration file: `-c`, else SHARDHERD_CONFIG, else PATRONICTL_CONFIG_FILE. */
export function configPathFrom(options: { configPath?: string }, env: NodeJS.ProcessEnv): string {
  const path = [options.configPath, env.SHARDHERD_CONFIG, env.PATRONICTL_CONFIG_FILE].find(
    (p) => p !== undefined && p !== '',
  );
  if (path === undefined) throw new ShardherdError('no configuration: pass -c FILE or set SHARDHERD_CONFIG');
  return path;
}

/**
 * The command's configuration; its problems as one line naming the file. With restapi.certfile,
 * members' https APIs are checked against its CA from now on (memberTls.ts). Files this user
 * cannot read (a member's key, say) only warn: most commands never ask a member anything.
 */
export async function loadConfigLine(path: string, env: NodeJS.ProcessEnv): Promise<CtlConfig> {
  let config: CtlConfig;
  try {
    config = loadCtlConfig(path, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const problems = err.problems.map((p) => (p.path && p.path !== path ? `${p.path}: ${p.message}` : p.message));
    throw new ShardherdError(`configuration ${path}: ${problems.join('; ')}`, { cause: err });
  }
  if (config.restapiTls !== undefined) {
    try {
      await installMemberTls(readTlsMaterial(config.restapiTls), true);
    } catch (err) {
      process.stderr.write(`warning: ${errorText(err)}; members' https APIs are checked against the system's CAs\n`);
    }
  }
  return config;
}

/** Reads the cluster (every group of a Citus cluster, or the one asked for) with one etcd range read. */
export async function readCluster(
  options: ReadClusterOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ClusterReading> {
  const path = configPathFrom(options, env);
  const config = await loadConfigLine(path, env);
  const scope = options.scope ?? config.scope;
  if (scope === null || scope === '') throw new ShardherdError(`no cluster name: give SCOPE or set scope in ${path}`);
  const group = options.group ?? null;
  const citus = config.citus !== null || group !== null;

  const dcs = new Dcs({
    ...etcdEndpoints(config.etcd3),
    namespace: config.namespace,
    scope,
    group: group ?? config.citus?.group ?? null,
    retryTimeout: config.retryTimeout,
    // Never used: a reader takes no lease.
    ttl: 30,
  });
  try {
    const view = await dcs.loadCluster({ allGroups: group === null });
    return { view, scope, citus, group, ...(config.restapiAuth ? { auth: config.restapiAuth } : {}) };
  } catch (err) {
    if (!(err instanceof DcsError)) throw err;
    const reason = err.message.replace(/\s+/g, ' ');
    throw new ShardherdError(
      `cannot read cluster ${scope} from etcd (${config.etcd3.hosts.join(', ')}) ` +
        `within retry_timeout ${config.retryTimeout} s: ${reason}`,

      { cause: err },
    );
  } finally {
    dcs.close();
  }
}
