// Observation half of a cycle: what the local PostgreSQL is doing right now, as a LocalState.
// The tracker remembers what only the agent can know: a long task in flight, a start in
// progress, and when the postmaster last died without being asked to.
import type { HostPort } from '../config/types.ts';
import { hostPortFromUrl } from '../dcs/memberUrl.ts';
import type { GroupView } from '../dcs/types.ts';
import { PostgresError } from '../errors.ts';
import type { ControlData } from '../postgres/controlData.ts';
import type { PostgresNode } from '../postgres/node.ts';
import type { Action, DataDirFacts, LocalState, LongTask } from './types.ts';

export interface RunningTask {
  task: LongTask;
  since: number;
  done: Promise<void>;
  /** For a restart: the role PostgreSQL had when it began. */
  role?: 'primary' | 'replica';
}

export interface PendingStart {
  as: 'primary' | 'replica';
  since: number;
  /** Settles when PostgreSQL accepts connections, exits, or the start deadline passes. */
  done: Promise<void>;
  settled: boolean;
}

/** Agent-side facts about PostgreSQL that neither PostgreSQL nor etcd can tell. */
export class LocalTracker {
  task: RunningTask | null = null;
  start: PendingStart | null = null;
  /** When the postmaster last died unasked, and nothing healthy was seen since. */
  crashedSince: number | null = null;
  startFailed: { as: 'primary' | 'replica'; at: number; message: string } | null = null;
  /** A failed long task, reported to decide once as the previous cycle's failure. */
  taskFailure: { action: Action; message: string } | null = null;
  /** Set when a background task (bootstrap) took the leader key; the loop adopts it. */
  lockAcquiredAt: number | null = null;
  /** The role of the last start, for 'starting' while the role cannot be queried. */
  lastStartAs: 'primary' | 'replica' = 'replica';

  noteUnexpectedExit(now: number): void {
    this.crashedSince ??= now;
  }

  noteHealthy(): void {
    this.crashedSince = null;
    this.startFailed = null;
  }
}

/** The busy state for a running long task. */
export function busyState(task: RunningTask): LocalState {
  return task.role === undefined
    ? { kind: 'busy', task: task.task, since: task.since }
    : { kind: 'busy', task: task.task, since: task.since, role: task.role };
}

export function dataFacts(control: ControlData): DataDirFacts {
  const recovery = control.state.includes('recovery');
  return {
    systemId: control.systemIdentifier,
    timeline: control.timeline,
    lsn: control.checkpointLsn,
    lastRole: recovery ? 'replica' : 'primary',
    cleanShutdown: control.cleanShutdown,
  };
}

/** The member whose conn_url is `address`, for naming a replica's upstream. */
export function memberAt(view: GroupView | null, address: HostPort | null): string | null {
  if (view === null || address === null) return null;
  for (const member of view.members) {
    const hp = typeof member.data.conn_url === 'string' ? hostPortFromUrl(member.data.conn_url) : null;
    if (hp && hp.host === address.host && hp.port === address.port) return member.name;
  }
  return null;
}

export async function observeLocal(
  node: PostgresNode,
  tracker: LocalTracker,
  view: GroupView | null,
  now: number,
): Promise<LocalState> {
  if (tracker.task !== null) return busyState(tracker.task);
  const dir = await node.dataState();
  if (dir.kind === 'missing' || dir.kind === 'empty') {
    if (!node.isRunning) return { kind: 'noData' };
  }
  if (dir.kind === 'foreign') {
    throw new PostgresError('data_dir', `${node.dataDir} holds files but no PG_VERSION; refusing to touch it`);
  }

  if (node.isRunning) {
    try {
      const status = await node.status();
      const systemId = await node.systemId();
      if (tracker.start?.settled !== false) tracker.start = null;
      tracker.noteHealthy();
      if (status.role === 'primary')
        return { kind: 'runningPrimary', systemId, timeline: status.timeline, walLsn: status.walLsn };
      const receiver = status.receiver;
      const upstream =
        memberAt(view, node.target?.upstream ?? null) ??
        (receiver?.upstreamHost && receiver.upstreamPort
          ? memberAt(view, { host: receiver.upstreamHost, port: receiver.upstreamPort })
          : null);
      return {
        kind: 'runningReplica',
        systemId,
        timeline: status.timeline,
        upstream,
        streaming: receiver?.status === 'streaming',
        receivedLsn: status.receivedLsn,
        replayedLsn: status.replayedLsn ?? 0,
      };
    } catch {
      // Running but not answering: still starting (or recovering after a crash restart).
      const since = tracker.start?.since ?? now;
      tracker.start ??= { as: tracker.lastStartAs, since, done: Promise.resolve(), settled: true };
      return { kind: 'starting', as: tracker.start.as, since, data: dataFacts(await node.controlData()) };
    }
  }

  const data = dataFacts(await node.controlData());
  if (tracker.startFailed !== null) return { kind: 'startFailed', ...tracker.startFailed, data };
  if (tracker.crashedSince !== null) return { kind: 'crashed', since: tracker.crashedSince, data };
  return { kind: 'stopped', data };
}
