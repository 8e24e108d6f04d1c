// The agent process: one per PostgreSQL node. Wires configuration, etcd, PostgreSQL, the HA
// loop and the REST API together, and shuts them down in order on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { PG_SETTINGS_SQL, type PgSetting } from '../api/pgSettings.ts';
import { AgentMetrics } from '../api/metrics.ts';
import { startApiServer } from '../api/server.ts';
import { etcdEndpoints } from '../dcs/etcdHttp.ts';
import { apiHosts } from '../dcs/memberUrl.ts';
import { COORDINATOR_GROUP } from '../citus/types.ts';
import { loadConfig } from '../config/load.ts';
import { Dcs } from '../dcs/dcs.ts';
import { HaLoop } from '../ha/loop.ts';
import { roleWord } from '../ha/memberData.ts';
import { withCallbacks } from '../ha/callbacks.ts';
import { localPostgres } from '../ha/ports.ts';
import { createLogger } from '../log.ts';
import { installMemberTls, readTlsMaterial } from '../memberTls.ts';
import { CallbackRunner } from '../postgres/callbacks.ts';
import { PostgresNode } from '../postgres/node.ts';
import { assertNotRoot } from '../postgres/privileges.ts';
import { managedPgbouncer } from '../pooler/managed.ts';
import { CitusRole } from './citusRole.ts';
import { AgentControl } from './control.ts';
import { AgentRequests } from './agentRequests.ts';
import { LoopStatusSource } from './statusSource.ts';
import { errorText } from '../errors.ts';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export async function runAgent(configPath: string): Promise<void> {
  const { config, warnings } = loadConfig(configPath);
  // The role each line carries: the HA loop's, once it exists.
  let role: () => string | undefined = () => undefined;
  const { dir, file_size: fileSize, file_num: fileNum } = config.log;
  const log = createLogger({
    level: config.log.level,
    identity: { scope: config.scope, ...(config.citus ? { group: config.citus.group } : {}), member: config.name },
    role: () => role(),
    file: dir === null ? undefined : { dir, fileSize, fileNum },
  });
  for (const warning of warnings) log.warn(warning);
  assertNotRoot();

  const dynamic = config.bootstrap.dcs;
  const dcs = new Dcs({
    ...etcdEndpoints(config.etcd3),
    namespace: config.namespace,
    scope: config.scope,
    group: config.citus?.group ?? null,
    retryTimeout: dynamic.retry_timeout,
    ttl: dynamic.ttl,
    logger: log,
  });
  const metrics = new AgentMetrics({ scope: config.scope, name: config.name });
  let citusRole: CitusRole | null = null;
  const node = new PostgresNode({
    name: config.name,
    config: config.postgresql,
    log,
    extraParameters: (user) => citusRole?.parameters(user) ?? {},
  });
  if (config.citus) citusRole = new CitusRole({ config, citus: config.citus, node, dcs, log, observer: metrics });
  const callbacks = new CallbackRunner(config, log.child({ component: 'callbacks' }));
  const loop = new HaLoop({
    config,
    store: dcs,
    postgres: withCallbacks(localPostgres(node), (action, role) => callbacks.fire(action, role)),
    log,
    version: VERSION,
    hooks: citusRole?.hooks() ?? {},
    cycleObserver: (ms) => metrics.haCycle(ms),
  });
  role = () => {
    const { local, lock } = loop.snapshot();
    return local === null ? undefined : roleWord(local, lock.kind === 'held');
  };
  if (citusRole) {
    const citus = citusRole;
    loop.onCycle((snapshot) => citus.onCycle(snapshot));
  }
  const pooler = managedPgbouncer(config, () => node.localConnParams(), log.child({ component: 'pgbouncer' }));
  const onReloaded = pooler ? () => pooler.reload() : undefined;
  const requests = new AgentRequests({ configPath, config, loop, log, onReloaded });
  const pgSettings = async (): Promise<PgSetting[] | null> =>
    node.isRunning ? (await node.query<PgSetting & Record<string, unknown>>(PG_SETTINGS_SQL)).rows : null;
  const control = new AgentControl({ config, dcs, loop, citus: citusRole, log, pgSettings });
  const restTls = config.restapi.tls;
  const tlsMaterial = restTls === undefined ? undefined : readTlsMaterial(restTls);
  if (tlsMaterial !== undefined) await installMemberTls(tlsMaterial, false);
  const api = await startApiServer(new LoopStatusSource(config, loop, node, dcs, VERSION), {
    ...(restTls && tlsMaterial && { tls: { material: tlsMaterial, verifyClient: restTls.verify_client } }),
    host: config.restapi.listen.host,
    port: config.restapi.listen.port,
    logger: log,
    requests,
    control,
    config: control,
    metrics,
    topology: () => dcs.loadCluster({ allGroups: true }),
    extraHeaders: () => config.restapi.extra_headers,
    access: {
      rules: () => config.restapi,
      memberHosts: () => apiHosts(loop.snapshot().cluster?.groups ?? []),
      // Workers call the coordinator's POST /citus; read their keys only when it is not one of the own group.
      ...(config.citus?.group === COORDINATOR_GROUP && {
        otherMemberHosts: async () => apiHosts((await dcs.loadCluster({ allGroups: true })).groups),
      }),
    },
  });
  log.info({ api: api.address, version: VERSION }, 'agent started');
  await loop.start();
  // Beside PostgreSQL, never in the HA loop's way: failures are logged and retried on its own.
  pooler?.start();

  let stopping: Promise<void> | null = null;
  const shutdown = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    log.info({ signal }, 'shutting down');
    stopping = (async () => {
      await loop.stop();
      // After PostgreSQL, so clients see the pooler refuse only once the server is gone anyway.
      await pooler?.stop();
      await citusRole?.stop();
      await api.close();
      dcs.close();
      log.info('agent stopped');
    })();
    void stopping.then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: errorText(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // As with Patroni, SIGHUP reloads the configuration file (POST /reload does the same).
  process.on('SIGHUP', () => void requests.reload());
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
