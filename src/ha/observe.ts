// Observation half of a cycle: what the local PostgreSQL is doing right now, as a LocalState.
// What only the agent can know (a long task, a start in progress, a crash) comes from the
// LocalTracker; the observer reports what it saw to the tracker and changes nothing else.
import type { HostPort } from '../config/types.ts';
import { memberAddress } from '../dcs/memberUrl.ts';
import type { GroupView } from '../dcs/types.ts';
import { errorText, PostgresError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ControlData } from '../postgres/controlData.ts';
import type { LocalTracker, RunningTask } from './localTracker.ts';
import type { LocalPostgres } from './ports.ts';
import type { DataDirFacts, LocalState, PrimaryReplication } from './types.ts';

/** A primary's synchronous replication; null when it cannot be read (the cycle goes on without it). */
async function observeReplication(node: LocalPostgres, tracker: LocalTracker): Promise<PrimaryReplication | null> {
  try {
    const r = await node.replication();
    return {
      ssn: r.synchronousStandbyNames,
      managed: r.managed,
      flushLsn: r.flushLsn,
      standbys: r.standbys.map((s) => ({ name: s.applicationName, state: s.state, flushLsn: s.flushLsn })),
      syncMark: tracker.observedFlush(r.flushLsn),
    };
  } catch {
    return null;
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
    const hp = memberAddress(member.data);
    if (hp && hp.host === address.host && hp.port === address.port) return member.name;
  }
  return null;
}

export async function observeLocal(
  node: LocalPostgres,
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
      tracker.seenAnswering();
      if (status.role === 'primary') {
        const replication = await observeReplication(node, tracker);
        const base = { kind: 'runningPrimary', systemId, timeline: status.timeline, walLsn: status.walLsn } as const;
        return replication === null ? base : { ...base, replication };
      }
      tracker.forgetSyncMark();
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
      const start = tracker.seenNotAnswering(now);
      return { kind: 'starting', as: start.as, since: start.since, data: dataFacts(await node.controlData()) };
    }
  }

  const data = dataFacts(await node.controlData());
  if (tracker.startFailed !== null) return { kind: 'startFailed', ...tracker.startFailed, data };
  if (tracker.crashedSince !== null) return { kind: 'crashed', since: tracker.crashedSince, data };
  return { kind: 'stopped', data };
}

/**
 * The local state after a cycle's actions, for the member key: cheap, as it asks PostgreSQL
 * nothing new unless the actions changed what runs (a task or a start began, PostgreSQL stopped).
 */
export async function stateAfterActions(
  node: LocalPostgres,
  tracker: LocalTracker,
  before: LocalState,
): Promise<LocalState> {
  if (tracker.task !== null) return busyState(tracker.task);
  const start = tracker.start;
  if (start !== null && tracker.starting && before.kind !== 'starting') {
    const data =
      before.kind === 'stopped' || before.kind === 'crashed' || before.kind === 'startFailed' ? before.data : null;
    if (data) return { kind: 'starting', as: start.as, since: start.since, data };
  }
  if (!node.isRunning && (before.kind === 'runningPrimary' || before.kind === 'runningReplica')) {
    try {
      return { kind: 'stopped', data: dataFacts(await node.controlData()) };
    } catch {
      return before;
    }
  }
  return before;
}

/**
 * pg_settings.pending_restart of a running server; false once it is stopped (whatever was pending
 * applies at the next start); the last value while a task runs or when it cannot be read.
 */
export async function observePendingRestart(
  node: LocalPostgres,
  local: LocalState,
  last: boolean,
  log: Logger,
): Promise<boolean> {
  if (local.kind !== 'runningPrimary' && local.kind !== 'runningReplica') return local.kind === 'busy' ? last : false;
  try {
    return await node.pendingRestart();
  } catch (err) {
    log.debug({ err: errorText(err) }, 'cannot read pending_restart');
    return last;
  }
}
