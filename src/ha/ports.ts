// What the HA loop needs of the world, as narrow interfaces: the group's keys in etcd (HaStore),
// the local PostgreSQL (LocalPostgres), the peers' REST API (PeerAsker) and the fence that stops a
// primary whose agent stalls (Fence). The agent wires the real ones (Dcs, PostgresNode through
// localPostgres(), pollPeers, SoftWatchdog); unit tests and the group simulator wire in-memory ones.
import type { CloneStatus } from '../postgres/cloneWatch.ts';
import type { DynamicConfig, HostPort, InitdbOption, JsonObject } from '../config/types.ts';
import type {
  ClusterView,
  FailoverState,
  GroupView,
  HistoryEntry,
  MemberData,
  StatusValue,
  SyncState,
} from '../dcs/types.ts';
import type { WatchListener } from '../dcs/watch.ts';
import type { ControlData } from '../postgres/controlData.ts';
import type { DataDirState } from '../postgres/dataDir.ts';
import type { PostgresNode, ReplicaTarget } from '../postgres/node.ts';
import { readPendingRestart } from '../postgres/pendingRestart.ts';
import type { PostmasterExit, StartResult, StopMode } from '../postgres/process.ts';
import type { PgStatus, ReplicationState } from '../postgres/queries.ts';
import type { RewindResult } from '../postgres/rewind.ts';
import type { SlotSyncResult } from '../postgres/slots.ts';
import type { PeerPoll } from './types.ts';

/** The keys of this member's group, as etcd holds them; each write is one compare-and-set. */
export interface HaStore {
  loadCluster(): Promise<ClusterView>;
  watch(fromRevision: string, onEvents: WatchListener): { close(): void };
  /** New ttl/retry_timeout from the dynamic configuration. */
  reconfigure(settings: { ttl?: number; retryTimeout?: number }): void;
  refreshLease(): Promise<boolean>;
  /** Writes this member's key; given `seen` (its group as read this cycle), only when it differs there. */
  touchMember(name: string, data: MemberData, seen?: Pick<GroupView, 'members'>): Promise<void>;
  /** Creates the leader key on this agent's lease when absent; false when another member holds it. */
  attemptToAcquireLeader(name: string): Promise<boolean>;
  /** Keeps the leader key ours (value == name); false when it is not. */
  updateLeader(name: string): Promise<boolean>;
  deleteLeader(name: string): Promise<boolean>;
  /** `create`: only when the key is absent (the bootstrap race); otherwise overwrite. */
  initialize(systemId: string, create?: boolean): Promise<boolean>;
  cancelInitialization(): Promise<void>;
  setConfig(value: JsonObject): Promise<boolean>;
  setFailover(value: FailoverState): Promise<boolean>;
  setSync(value: SyncState): Promise<boolean>;
  setFailsafe(value: Record<string, string>): Promise<boolean>;
  deleteSync(): Promise<boolean>;
  setHistory(entries: HistoryEntry[]): Promise<boolean>;
  /** Given `stored` (as read this cycle), writes only when the value changed. */
  setStatus(value: StatusValue, stored?: StatusValue | null): Promise<boolean>;
}

/** This member's PostgreSQL: its data directory, its postmaster and the long tasks on it. */
export interface LocalPostgres {
  readonly dataDir: string;
  readonly isRunning: boolean;
  /** The postmaster's pid while one runs. */
  readonly pid: number | null;
  /** What the configuration on disk follows; null when configured as a primary or not yet written. */
  readonly target: ReplicaTarget | null;
  /** Takes over a postmaster left running by an earlier agent; its pid, or null. */
  adoptRunning(): Promise<number | null>;
  onExit(listener: (exit: PostmasterExit) => void): void;
  dataState(): Promise<DataDirState>;
  controlData(): Promise<ControlData>;
  status(): Promise<PgStatus>;
  systemId(): Promise<string>;
  /** Some setting waits for a restart (pg_settings.pending_restart, less what a promotion made moot). */
  pendingRestart(): Promise<boolean>;
  closeConnection(): Promise<void>;
  /** Renders the managed configuration for `target` (null: primary); true when a file changed. */
  writeConfig(dynamic: DynamicConfig, target: ReplicaTarget | null): Promise<boolean>;
  markStandby(): Promise<void>;
  start(): Promise<StartResult>;
  stop(mode: StopMode): Promise<void>;
  /** A fast stop and a start in the same role, with the configuration as it is. */
  restart(): Promise<StartResult>;
  promote(): Promise<void>;
  reload(): void;
  checkpoint(): Promise<void>;
  /** initdb, start as primary, create the roles; the new system identifier. */
  bootstrap(dynamic: DynamicConfig, initdb: InitdbOption[]): Promise<string>;
  clone(source: HostPort, dynamic: DynamicConfig, target: ReplicaTarget): Promise<void>;
  rewind(source: HostPort, dynamic: DynamicConfig, target: ReplicaTarget): Promise<RewindResult>;
  removeData(): Promise<void>;
  syncSlots(members: string[]): Promise<SlotSyncResult>;
  /** A primary's synchronous replication as it runs, and whether the HA loop set its standbys. */
  replication(): Promise<ReplicationState & { managed: boolean }>;
  /** Sets synchronous_standby_names (null: a fresh primary's value), reloads, returns once in force. */
  setSynchronousStandbyNames(value: string | null, dynamic: DynamicConfig): Promise<void>;
  /** The clone in flight and how far it got; null (or absent) when none runs. */
  cloneStatus?(): CloneStatus | null;
}

/** GET /patroni of the named members of `view`, each with a short timeout. */
export type PeerAsker = (view: GroupView, members: string[], timeoutMs?: number) => Promise<PeerPoll>;

/** POST /failsafe with `body` to each `{name: api_url}`; true for each member that accepted. */
export type FailsafeCaller = (
  members: Record<string, string>,
  body: Record<string, unknown>,
) => Promise<Record<string, boolean>>;

/** Stops the postmaster when the deadline passes without being moved (see watchdog.ts). */
export interface Fence {
  start(): void;
  arm(deadline: number, postmasterPid: number, dataDir: string): Promise<void>;
  disarm(): Promise<void>;
  stop(): Promise<void>;
}

/** The real PostgreSQL behind the HA loop's narrow view of it. */
export function localPostgres(node: PostgresNode): LocalPostgres {
  return {
    get dataDir() {
      return node.dataDir;
    },
    get isRunning() {
      return node.isRunning;
    },
    get pid() {
      return node.process.pid;
    },
    get target() {
      return node.target;
    },
    adoptRunning: () => node.process.adoptRunning(),
    onExit: (listener) => {
      node.process.onExit(listener);
    },
    dataState: () => node.dataState(),
    controlData: () => node.controlData(),
    status: () => node.status(),
    systemId: () => node.systemId(),
    pendingRestart: () => readPendingRestart(node),
    closeConnection: () => node.closeConnection(),
    writeConfig: (dynamic, target) => node.writeConfig(dynamic, target),
    markStandby: () => node.markStandby(),
    start: () => node.start(),
    stop: (mode) => node.stop(mode),
    restart: async () => {
      await node.stop('fast');
      return node.start();
    },
    promote: () => node.promote(),
    reload: () => node.reload(),
    checkpoint: () => node.checkpoint(),
    bootstrap: (dynamic, initdb) => node.bootstrap(dynamic, initdb),
    clone: (source, dynamic, target) => node.clone(source, dynamic, target),
    rewind: (source, dynamic, target) => node.rewind(source, dynamic, target),
    removeData: () => node.removeData(),
    syncSlots: (members) => node.syncSlots(members),
    replication: () => node.replication(),
    setSynchronousStandbyNames: (value, dynamic) => node.setSynchronousStandbyNames(value, dynamic),
    cloneStatus: () => node.cloning.status,
  };
}
