// The shared test harness: deadlines, ports, temp dirs, managed processes, etcd, PostgreSQL,
// clusters of real agents and the two-primaries checker.

export { waitFor, type WaitForOptions } from './poll.ts';
export { freePort } from './ports.ts';
export { unprivilegedUser, type UnprivilegedUser } from './user.ts';
export { tempDir } from './tempDir.ts';
export { certificates } from './certificates.ts';
export { cleanup, onCleanup, useHarness, type CleanupOptions, type CleanupPhase } from './cleanup.ts';
export {
  spawnManaged,
  ManagedProcess,
  MARKER_ENV,
  type ExitStatus,
  type KillTarget,
  type SpawnOptions,
} from './processes.ts';
export { isAlive, listProcesses, procInfo, type ProcInfo } from './procfs.ts';
export { startEtcd, EtcdServer, ETCD_BIN } from './etcd.ts';
export {
  createPostgres,
  resolvePgBinDir,
  PgServer,
  DEFAULT_PG_BIN_DIR,
  type CreatePostgresOptions,
} from './postgres.ts';
export {
  startCluster,
  waitForLeader,
  waitForReplicas,
  readLeaderKey,
  TestCluster,
  TestMember,
  type QueryOptions,
  type StartClusterOptions,
} from './cluster.ts';
export {
  memberConfig,
  memberConfigYaml,
  CITUS_DATABASE,
  CLUSTER_PASSWORDS,
  type ClusterTiming,
  type MemberConfigInput,
  type TagValues,
} from './memberConfig.ts';
export {
  startPrimaryChecker,
  waitForSamples,
  type PrimaryChecker,
  type PrimaryCheckerOptions,
  type PrimaryCheckReport,
  type PrimaryCheckTarget,
} from './primaryChecker.ts';
export { startStandInSync, type StandInSync, type StandInSyncOptions } from '../../scripts/standInSync.ts';
export { TestPgBouncer, PGBOUNCER_BIN, type PgBouncerOptions, type PgBouncerStats } from './pgbouncer.ts';
export { TcpProxy } from './tcpProxy.ts';
export { runCommand, type CommandRun, type RunOptions } from './runCommand.ts';
export { tableRows } from './prettyTable.ts';
