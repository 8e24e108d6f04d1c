// The part of a configuration the read-only commands (`list`, `topology`) need: where etcd is and
// which cluster to read. Like patronictl, a file with scope, namespace, etcd3 and citus is enough.
import { ConfigError } from '../errors.ts';
import { readCitus } from './citus.ts';
import { DEFAULT_DYNAMIC_CONFIG, readDynamicConfig } from './dynamic.ts';
import { readEtcd3 } from './etcd3.ts';
import { Findings, readMap } from './findings.ts';
import { readRawConfig } from './load.ts';
import type { CitusConfig, Config, RestapiTls, UserAuth } from './types.ts';
import { readRestapiAuthentication, readRestapiTls } from './restapi.ts';
import { readNamespace, requiredName } from './validate.ts';

export interface CtlConfig {
  /** Null when the file names none: the command line must then name the cluster. */
  scope: string | null;
  /** Without slashes, e.g. `service`. */
  namespace: string;
  etcd3: Config['etcd3'];
  citus: CitusConfig | null;
  /** Seconds an etcd read may take, retries included: `bootstrap.dcs.retry_timeout`, default 10. */
  retryTimeout: number;
  /** `restapi.authentication`: sent with the requests that act on members (restart, switchover, ...). */
  restapiAuth?: UserAuth;
  /** `restapi.certfile` and the rest: members' https APIs are checked against its CA and shown its certificate. */
  restapiTls?: RestapiTls;
}

/**
 * Loads a file (or directory) with environment overrides, validating only the fields read here
 * with the agent's own readers; anything else in the file (a full member config) is ignored.
 * Throws ConfigError listing every problem.
 */
export function loadCtlConfig(configPath: string, env: NodeJS.ProcessEnv = process.env): CtlConfig {
  const read = readRawConfig(configPath, env);
  if (!read.ok) throw new ConfigError(read.problems);
  const { raw } = read;
  // Warnings (keys of a member config the agent does not implement) are no business of a listing.
  const f = new Findings();
  const scope = raw.scope === undefined || raw.scope === null ? null : requiredName(raw.scope, 'scope', f);
  const namespace = readNamespace(raw.namespace, f);
  const etcd3 = readEtcd3(raw.etcd3, f);
  const citus = readCitus(raw.citus, f);
  const bootstrap = readMap(raw.bootstrap, 'bootstrap', f) ?? {};
  const { retry_timeout } = readDynamicConfig(bootstrap.dcs, 'bootstrap.dcs', DEFAULT_DYNAMIC_CONFIG, f);
  const restapi = readMap(raw.restapi, 'restapi', f) ?? {};
  const restapiAuth = readRestapiAuthentication(restapi.authentication, f);
  const restapiTls = readRestapiTls(restapi, f);
  if (
    f.problems.length > 0 ||
    scope === undefined ||
    namespace === undefined ||
    etcd3 === undefined ||
    citus === undefined
  ) {
    throw new ConfigError(f.problems.map(read.blame));
  }
  const config: CtlConfig = { scope, namespace, etcd3, citus, retryTimeout: retry_timeout };
  if (restapiAuth !== undefined) config.restapiAuth = restapiAuth;
  if (restapiTls !== undefined) config.restapiTls = restapiTls;
  return config;
}
