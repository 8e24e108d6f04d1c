// The coordinator's watch over its worker primaries (docs/design.md, "Worker failure"): probes
// every registered primary, feeds the results to the failure detector, and pauses a group whose
// primary stops answering (or resumes it when the primary answers again).
import { memberAddress } from '../dcs/memberUrl.ts';
import type { ClusterView, GroupView, Member } from '../dcs/types.ts';
import { groupOf } from '../dcs/view.ts';
import type { Logger } from '../log.ts';
import { nextHealth, type GroupHealth, type ProbeResult } from './failureDetector.ts';
import type { MetadataView } from './metadataView.ts';
import { WorkerProbes, type ProbeConnection, type ProbeTarget } from './workerProbes.ts';

/** How the manager watches worker primaries and what it does when one stops answering. */
export interface FailureOptions {
  /** A connection to a worker's Citus database with short connect and statement timeouts. */
  connect: (host: string, port: number) => Promise<ProbeConnection>;
  /** The current dynamic settings, asked at every probe result. */
  settings: () => { pauseOnFailure: boolean; probeCount: number; timeoutMs: number };
  /** Default 500 ms between rounds, each probe bounded by 400 ms. */
  intervalMs?: number;
  probeTimeoutMs?: number;
}

/** The part of the pause registry the watch uses. */
export interface FailurePauses {
  pauseFailedWorker(group: number, address: string, reason: string, timeoutMs: number): boolean;
  workerAnswers(group: number): void;
}

export interface WorkerWatchOptions extends FailureOptions {
  /** The metadata as last read; null while the manager does not run. */
  rows: () => MetadataView | null;
  /** etcd's view, to find each primary's agent. */
  view: () => ClusterView | null;
  pauses: FailurePauses;
  logger: Logger;
}

export class WorkerWatch {
  private readonly probes: WorkerProbes;
  /** The failure detector's state per worker group. */
  private readonly health = new Map<number, GroupHealth>();

  constructor(private readonly opts: WorkerWatchOptions) {
    this.probes = new WorkerProbes({
      connect: opts.connect,
      targets: () => probeTargets(opts.rows(), opts.view()),
      onResult: (target, result) => this.onProbe(target, result),
      intervalMs: opts.intervalMs ?? 500,
      timeoutMs: opts.probeTimeoutMs ?? 400,
    });
  }

  start(): void {
    this.probes.start();
  }

  stop(): Promise<void> {
    return this.probes.stop();
  }

  /** One probe round's result: the detector decides; a suspect primary's group is paused, a recovered one resumed. */
  private onProbe(target: ProbeTarget, result: ProbeResult): void {
    const settings = this.opts.settings();
    const address = `${target.host}:${target.port}`;
    const { health, action } = nextHealth(this.health.get(target.group), address, result, settings.probeCount);
    this.health.set(target.group, health);
    const log = this.opts.logger;
    if (action.kind === 'suspect') {
      if (!settings.pauseOnFailure) {
        log.warn(
          { action: 'worker-probe', group: target.group, reason: action.reason },
          'worker primary does not answer (pausing is off)',
        );
      } else if (this.opts.pauses.pauseFailedWorker(target.group, address, action.reason, settings.timeoutMs)) {
        log.warn(
          { action: 'worker-probe', group: target.group, reason: action.reason },
          'worker primary does not answer: its writes wait',
        );
      }
    } else if (action.kind === 'unreachable') {
      log.warn(
        { action: 'worker-probe', group: target.group, reason: action.reason },
        'cannot probe the worker primary: a failure will not pause its writes until a probe succeeds',
      );
    } else if (action.kind === 'recovered') {
      log.info({ action: 'worker-probe', group: target.group, member: address }, 'worker primary answers again');
      this.opts.pauses.workerAnswers(target.group);
    }
  }
}

/** The registered worker primaries, where the rows point, with their agents' REST API when etcd names them. */
export function probeTargets(rows: MetadataView | null, view: ClusterView | null): ProbeTarget[] {
  if (rows === null) return [];
  return rows.nodes
    .filter((n) => n.noderole === 'primary' && n.groupid > 0 && n.isactive)
    .map((n) => {
      const member = view === null ? undefined : memberAt(groupOf(view, n.groupid), n.nodename, n.nodeport);
      const api = typeof member?.data.api_url === 'string' ? apiRoot(member.data.api_url) : null;
      return { group: n.groupid, host: n.nodename, port: n.nodeport, apiBase: api };
    });
}

/** The member whose `conn_url` names `host:port`. */
function memberAt(group: GroupView, host: string, port: number): Member | undefined {
  return group.members.find((m) => {
    const at = memberAddress(m.data);
    return at !== null && at.host === host && at.port === port;
  });
}

/** `http://host:port` of a member's `api_url`, null when it is not a URL. */
function apiRoot(apiUrl: string): string | null {
  try {
    return new URL(apiUrl).origin;
  } catch {
    return null;
  }
}
