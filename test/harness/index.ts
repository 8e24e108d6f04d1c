// The shared test harness: deadlines, ports, temp dirs, managed processes, etcd, PostgreSQL.

export { waitFor, type WaitForOptions } from './poll.ts';
export { freePort } from './ports.ts';
export { unprivilegedUser, type UnprivilegedUser } from './user.ts';
export { tempDir } from './tempDir.ts';
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
