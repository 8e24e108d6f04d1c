// The PostgreSQL control layer's public surface, for the HA executor and the CLI.
export { assertNotRoot } from './privileges.ts';
export { resolveBinaries, binariesAt, type PgBinaries, type PgProgram } from './binaries.ts';
export { initdb } from './initdb.ts';
export {
  PostgresProcess,
  type PostgresProcessOptions,
  type PostmasterExit,
  type ProcessState,
  type StartResult,
  type StopResult,
  type RestartResult,
  type StopMode,
} from './process.ts';
export { writeManagedConfig, setStandbySignal, type ManagedFiles } from './configFiles.ts';
export {
  managedParameters,
  renderPostgresqlConf,
  renderHba,
  type ManagedSettings,
  type StandbySettings,
} from './confRender.ts';
export { writePgpass, renderPgpass, type PgpassEntry } from './pgpass.ts';
export { formatConnInfo, clientConfig, type ConnParams } from './connInfo.ts';
export { basebackup, type BasebackupResult } from './basebackup.ts';
export { rewind, ensureCleanShutdown, type RewindResult } from './rewind.ts';
export { dataDirectoryState, ensureDataDirectory, removeDataDirectory, type DataDirState } from './dataDir.ts';
export { readControlData, type ControlData } from './controlData.ts';
export {
  readStatus,
  connectedReplicas,
  systemIdentifier,
  type Db,
  type PgStatus,
  type WalReceiver,
  type ReplicaConnection,
} from './queries.ts';
export { syncSlots, physicalSlots, slotNameFromMemberName, type SlotSyncResult } from './slots.ts';
export { bootstrapRoles, type BootstrapAuth } from './roles.ts';
export { parseLsn, formatLsn } from './lsn.ts';
