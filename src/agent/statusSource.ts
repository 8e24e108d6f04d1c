// Adapts the running HA loop and its PostgreSQL to the REST API's AgentStatusSource.
import type { AgentStatusSource, PostgresStatusReport } from '../api/types.ts';
import type { Config, Tags } from '../config/types.ts';
import type { Dcs } from '../dcs/dcs.ts';
import type { GroupView } from '../dcs/types.ts';
import { groupOf } from '../dcs/view.ts';
import type { HaLoop } from '../ha/loop.ts';
import { roleWord, stateWord } from '../ha/memberData.ts';
import type { PostgresNode } from '../postgres/node.ts';

export class LoopStatusSource implements AgentStatusSource {
  readonly scope: string;
  readonly name: string;

  constructor(
    private readonly config: Config,
    private readonly loop: HaLoop,
    private readonly node: PostgresNode,
    private readonly dcs: Dcs,
    readonly version: string,
  ) {
    this.scope = config.scope;
    this.name = config.name;
  }

  async postgresStatus(): Promise<PostgresStatusReport> {
    const snap = this.loop.snapshot();
    const local = snap.local;
    const clone = this.node.cloning.status;
    const fallback: PostgresStatusReport = {
      state: local ? stateWord(local) : 'unknown',
      role: local ? roleWord(local, snap.lock.kind === 'held') : 'uninitialized',
      ...(clone !== null && { clone_progress: clone }),
    };
    if (!this.node.isRunning) return fallback;
    try {
      const { status, postmasterStart, serverVersion, replicas } = await this.node.statusReport();
      const report: PostgresStatusReport = {
        state: 'running',
        role: status.role,
        postmaster_start_time: postmasterStart,
        server_version: serverVersion,
        timeline: status.timeline,
      };
      if (status.role === 'primary') {
        report.xlog = { location: status.walLsn };
      } else {
        report.xlog = {
          received_location: status.receivedLsn ?? status.replayedLsn ?? 0,
          replayed_location: status.replayedLsn ?? 0,
          replayed_timestamp: null,
          paused: status.replayPaused,
        };
        if (status.receiver?.status === 'streaming') report.replication_state = 'streaming';
        if (status.receivedLsn === null) report.streamed_since_start = false;
      }
      if (replicas.length > 0) {
        report.replication = replicas.map((r) => ({
          usename: this.config.postgresql.authentication.replication.username,
          application_name: r.applicationName,
          client_addr: r.clientAddr,
          state: r.state,
          sync_state: r.syncState,
          sync_priority: 0,
        }));
      }
      return report;
    } catch {
      return { ...fallback, state: fallback.state === 'running' ? 'unknown' : fallback.state };
    }
  }

  isLeader(): boolean {
    const snap = this.loop.snapshot();
    return snap.lock.kind === 'held' && snap.view?.leader?.name === this.name;
  }

  isPaused(): boolean {
    return this.loop.snapshot().dynamic.pause;
  }

  tags(): Tags {
    return this.config.tags;
  }

  lastView(): GroupView | null {
    return this.loop.snapshot().view;
  }

  async freshView(): Promise<GroupView> {
    const own = this.config.citus?.group ?? null;
    const cluster = await this.dcs.loadCluster();
    return groupOf(cluster, own);
  }

  dcsLastSeen(): number {
    return Math.floor(this.loop.snapshot().dcsLastSeen / 1000);
  }

  lastCycleAt(): number {
    return this.loop.snapshot().lastCycleAt;
  }

  ttl(): number {
    return this.loop.snapshot().dynamic.ttl;
  }

  systemIdentifier(): string | null {
    const local = this.loop.snapshot().local;
    if (local === null) return null;
    if (local.kind === 'runningPrimary' || local.kind === 'runningReplica') return local.systemId;
    if ('data' in local) return local.data.systemId;
    return null;
  }

  pendingRestart(): boolean {
    return this.loop.snapshot().pendingRestart;
  }

  failsafeActive(): boolean {
    return this.loop.snapshot().failsafeActive;
  }
}
