// The I/O of scale-out and scale-in (docs/design.md, "Scale out and in"): reads what planScale
// needs from the coordinator, carries out the step it returns (Citus calls, or a group's `citus`
// key in etcd), and keeps what GET /citus shows. The manager runs a pass after a reconcile when
// one is due (see due()) and, while work remains, one a second.
import type pg from 'pg';
import type { ShardTransferMode } from '../config/types.ts';
import { KEY } from '../dcs/keys.ts';
import type { CitusMark, ClusterView, DcsEvent, GroupView, RemovalState } from '../dcs/types.ts';
import { isPrimaryRole } from '../dcs/role.ts';
import { errorText, PostgresError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { desiredTopology } from './desired.ts';
import { membershipBlocker } from './gate.ts';
import { holdGroups } from './hold.ts';
import { applyPlan, queryAs, readMetadata, type MetadataRows, type Queryable } from './metadataStore.ts';
import { SQL } from './planSql.ts';
import { planScale, removalHeld, type RebalanceJob, type ScaleGroup, type ScaleStep } from './scalePlan.ts';

export interface ScaleSettings {
  rebalanceOnJoin: boolean;
  transferMode: ShardTransferMode;
}

export interface ScaleOptions {
  /** Opens a dedicated connection to the local coordinator's `citus.database`, as a superuser. */
  connect: () => Promise<pg.Client>;
  logger: Logger;
  /** etcd's view as the manager last built it; null before its first read. */
  view: () => ClusterView | null;
  /** Groups with a pause open: calls that contact every metadata worker wait for them. */
  pausedGroups: () => ReadonlySet<number>;
  settings: () => ScaleSettings;
  /** Writes a group's `citus` key if unchanged since `modRevision` (null: if absent). */
  writeMark: (group: number, mark: CitusMark, modRevision: string | null) => Promise<boolean>;
  /** pg_dist_node changed here: the reconcile reads it again. */
  rowsChanged: () => void;
  now?: () => number;
}

/** What GET /citus shows of scale work. */
export interface ScaleStatus {
  /** The latest rebalance job (a drain is one too); null when Citus has none. */
  rebalance: RebalanceJob | null;
  /** Shard placements per group id, as of the last look. */
  placements: Record<string, number>;
  /** Worker groups a rebalance may move shards to: an active primary row with shouldhaveshards. */
  takers: number[];
  /** Groups being removed and how far they are. */
  removals: Array<{ group: number; state: RemovalState }>;
  /** Why the next step waits; null when nothing is left to do. */
  waiting: string | null;
  lastError: string | null;
}

/** Scale work before the first look: nothing known, nothing waiting. */
export function idleScaleStatus(): ScaleStatus {
  return { rebalance: null, placements: {}, takers: [], removals: [], waiting: null, lastError: null };
}

/** After a rebalance this pass saw fail or be cancelled, none starts for this long. */
const FAILED_JOB_HOLD_MS = 30_000;
/** Steps one pass may take before it yields to the reconcile. */
const MAX_STEPS = 20;

const PLACEMENTS_SQL =
  'SELECT groupid, count(*)::int AS n FROM pg_catalog.pg_dist_placement GROUP BY groupid ORDER BY groupid';
const STATUS_SQL = `SELECT job_id, state::text AS state, description, started_at, finished_at, details
  FROM pg_catalog.citus_rebalance_status()`;
const START_SQL =
  'SELECT pg_catalog.citus_rebalance_start(drain_only => $1, shard_transfer_mode => $2::citus.shard_transfer_mode) ' +
  'AS job_id';
const STOP_SHARDS_SQL = "SELECT pg_catalog.citus_set_node_property($1, $2, 'shouldhaveshards', false)";

/** A job Citus already runs, from its refusal to start a second (`A rebalance is already running as job N`). */
export function runningJobOf(message: string): number | null {
  const m = /already running as job (\d+)/i.exec(message);
  return m === null ? null : Number(m[1]);
}

export function jobOf(row: Record<string, unknown> | undefined): RebalanceJob | null {
  if (row === undefined) return null;
  const details =
    typeof row.details === 'object' && row.details !== null ? (row.details as Record<string, unknown>) : {};
  const rawCounts = details.task_state_counts;
  const counts: Record<string, number> = {};
  if (typeof rawCounts === 'object' && rawCounts !== null) {
    for (const [k, v] of Object.entries(rawCounts)) if (typeof v === 'number') counts[k] = v;
  }
  const time = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : null);
  return {
    jobId: Number(row.job_id),
    state: String(row.state),
    description: typeof row.description === 'string' ? row.description : '',
    startedAt: time(row.started_at),
    finishedAt: time(row.finished_at),
    counts,
  };
}

function scaleGroups(view: ClusterView): ScaleGroup[] {
  return view.groups
    .filter((g): g is GroupView & { group: number } => g.group !== null && g.group > 0)
    .map((g) => {
      const leader = g.members.find((m) => m.name === g.leader?.name);
      return {
        group: g.group,
        mark: g.citus?.value ?? {},
        leaderRunsPrimary: leader !== undefined && isPrimaryRole(leader.data.role) && leader.data.state === 'running',
      };
    });
}

export class ScaleWork {
  private client: pg.Client | null = null;
  private current: ScaleStatus = idleScaleStatus();
  /** Failed or cancelled jobs, and when a pass first saw them so. */
  private readonly failedSeen = new Map<number, number>();
  private lastWaiting: string | null = null;
  /** Whether something a pass reads changed since the last one (a first pass is always due). */
  private wanted = true;
  /** The settings the last pass ran with: a change makes the next one due. */
  private lastSettings = '';
  private lastJobText: string | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: ScaleOptions) {
    this.now = opts.now ?? Date.now;
  }

  status(): ScaleStatus {
    return structuredClone(this.current);
  }

  /** Groups the reconcile must leave as their rows are: those whose removal took their rows over. */
  heldGroups(view: ClusterView): Set<number> {
    return removalHeld(scaleGroups(view));
  }

  /**
   * Marks a pass due: a group's `citus` key changed (a removal asked for or advanced, a join
   * recorded), or a reconcile changed pg_dist_node (a group registered). Passes that wait for
   * something else (a job, the gate) come from the manager's timer instead.
   */
  nudge(): void {
    this.wanted = true;
  }

  /** Whether a pass after this reconcile can find anything new: otherwise the reconcile stays cheap. */
  due(): boolean {
    return this.wanted || JSON.stringify(this.opts.settings()) !== this.lastSettings;
  }

  /** Marks a pass due when the events include a group's `citus` key. */
  noteEvents(events: readonly DcsEvent[]): void {
    if (events.some((e) => e.name === KEY.citus)) this.wanted = true;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  /**
   * Steps until there is nothing to do or the next step must wait; never throws. Returns whether
   * work remains (a wait, a running job, or a failure to retry): the caller passes again soon.
   */
  async pass(): Promise<boolean> {
    this.wanted = false;
    this.lastSettings = JSON.stringify(this.opts.settings());
    try {
      for (let i = 0; i < MAX_STEPS; i++) {
        const step = await this.nextStep();
        if (step.kind === 'idle') return this.settle(null, false);
        if (step.kind === 'wait') return this.settle(step.reason, true);
        // A written mark reaches the view through the watch, which starts the next pass.
        if ((await this.carryOut(step)) === 'marked') return this.settle(null, true);
      }
      return true;
    } catch (err) {
      const why = errorText(err);
      if (why !== this.current.lastError)
        this.opts.logger.warn({ action: 'citus-scale', err: why }, 'scale step failed; will retry');
      this.current.lastError = why;
      await this.close();
      return true;
    }
  }

  private settle(waiting: string | null, remains: boolean): boolean {
    this.current.waiting = waiting;
    this.current.lastError = null;
    if (waiting !== this.lastWaiting && waiting !== null)
      this.opts.logger.info({ action: 'citus-scale', reason: waiting }, 'scale work waits');
    this.lastWaiting = waiting;
    return remains;
  }

  /** Reads the rows, placements and latest job, and shows them in status(); acts on nothing. */
  async observe(): Promise<void> {
    try {
      await this.look();
    } catch (err) {
      this.current.lastError = errorText(err);
      await this.close();
    }
  }

  private async look(): Promise<{ rows: MetadataRows; placements: Map<number, number>; job: RebalanceJob | null }> {
    const client = await this.connection();
    const rows = await readMetadata(client);
    const placements = new Map<number, number>();
    for (const r of (await queryAs(client, 'read pg_dist_placement', PLACEMENTS_SQL)).rows)
      placements.set(Number(r.groupid), Number(r.n));
    const job = jobOf((await queryAs(client, 'citus_rebalance_status()', STATUS_SQL)).rows[0]);
    this.noteJob(job);
    this.current.rebalance = job;
    this.current.placements = Object.fromEntries(placements);
    this.current.takers = [
      ...new Set(
        rows.nodes
          .filter((r) => r.groupid > 0 && r.noderole === 'primary' && r.isactive && r.shouldhaveshards)
          .map((r) => r.groupid),
      ),
    ].sort((a, b) => a - b);
    return { rows, placements, job };
  }

  private async nextStep(): Promise<ScaleStep> {
    const view = this.opts.view();
    if (view === null) return { kind: 'idle' };
    const { rows, placements, job } = await this.look();
    const groups = scaleGroups(view);
    const paused = this.opts.pausedGroups();
    const blocked = membershipBlocker(
      rows.nodes,
      holdGroups(desiredTopology(view), rows, paused),
      [...paused].sort((a, b) => a - b),
    );
    this.current.removals = groups.flatMap((g) =>
      g.mark.removal === undefined ? [] : [{ group: g.group, state: g.mark.removal.state }],
    );
    const settings = this.opts.settings();
    return planScale({
      groups,
      nodes: rows.nodes,
      placements,
      job,
      rebalanceOnJoin: settings.rebalanceOnJoin,
      blocked,
      startHeld: this.startHeld(job),
    });
  }

  /** Logs the job's progress once per change, and remembers when a job was first seen failed. */
  private noteJob(job: RebalanceJob | null): void {
    if (job === null) return;
    const text = `${job.jobId} ${job.state} ${JSON.stringify(job.counts)}`;
    if (text !== this.lastJobText) {
      this.opts.logger.info(
        { action: 'citus-rebalance', job: job.jobId, state: job.state, tasks: job.counts },
        `rebalance job ${job.jobId} ${job.state}`,
      );
      this.lastJobText = text;
    }
    if ((job.state === 'failed' || job.state === 'cancelled') && !this.failedSeen.has(job.jobId))
      this.failedSeen.set(job.jobId, this.now());
  }

  private startHeld(job: RebalanceJob | null): string | null {
    if (job === null) return null;
    const seen = this.failedSeen.get(job.jobId);
    if (seen === undefined) return null;
    const left = seen + FAILED_JOB_HOLD_MS - this.now();
    return left > 0 ? `rebalance job ${job.jobId} ${job.state}; next attempt in ${Math.ceil(left / 1000)} s` : null;
  }

  private async carryOut(step: Exclude<ScaleStep, { kind: 'idle' | 'wait' }>): Promise<'done' | 'marked'> {
    const client = await this.connection();
    const log = this.opts.logger;
    switch (step.kind) {
      case 'stopShards':
        log.info({ action: 'citus-scale', group: step.group, reason: step.why }, 'shouldhaveshards = false');
        await queryAs(client, 'citus_set_node_property', STOP_SHARDS_SQL, [step.host, step.port]);
        this.opts.rowsChanged();
        return 'done';
      case 'startRebalance': {
        const jobId = await this.startRebalance(client, step.drainOnly);
        log.info(
          { action: 'citus-rebalance', job: jobId, reason: step.why, drain_only: step.drainOnly },
          jobId === null ? 'rebalance: no moves needed' : `rebalance job ${jobId} started`,
        );
        for (const group of step.joined)
          await this.mark(group, (m) => ({ ...m, joined: { job_id: jobId, at: this.iso() } }));
        return step.joined.length > 0 ? 'marked' : 'done';
      }
      case 'markRemoval':
        log.info({ action: 'citus-scale', group: step.group, reason: step.why }, `group ${step.group} ${step.state}`);
        await this.mark(step.group, (m) => ({
          ...m,
          removal: { requested_at: this.iso(), ...m.removal, state: step.state },
        }));
        return 'marked';
      case 'removeNode': {
        log.info({ action: 'citus-scale', group: step.group, reason: step.why }, 'citus_remove_node');
        const at = [step.host, step.port];
        const byAddress = 'SELECT nodeid FROM pg_catalog.pg_dist_node WHERE nodename = $1 AND nodeport = $2';
        await applyPlan(
          client,
          [
            { sql: `DELETE FROM pg_catalog.pg_dist_poolinfo WHERE nodeid = (${byAddress})`, params: at, why: step.why },
            { sql: SQL.removeNode, params: at, why: step.why },
          ],
          undefined,
          { readBack: false },
        );
        this.opts.rowsChanged();
        return 'done';
      }
    }
  }

  /** Starts a rebalance; one Citus already runs counts as started. Null: nothing to move. */
  private async startRebalance(client: Queryable, drainOnly: boolean): Promise<number | null> {
    try {
      const result = await client.query(START_SQL, [drainOnly, this.opts.settings().transferMode]);
      const id = result.rows[0]?.job_id;
      return id === null || id === undefined || Number(id) === 0 ? null : Number(id);
    } catch (err) {
      const running = runningJobOf(errorText(err));
      if (running !== null) return running;
      throw new PostgresError('citus_rebalance_start', errorText(err), { cause: err });
    }
  }

  /** Read-modify-write of a group's `citus` key against the view's revision of it. */
  private async mark(group: number, change: (mark: CitusMark) => CitusMark): Promise<void> {
    const g = this.opts.view()?.groups.find((v) => v.group === group);
    const current = g?.citus ?? null;
    const ok = await this.opts.writeMark(group, change(current?.value ?? {}), current?.modRevision ?? null);
    // Someone wrote the key meanwhile: the watch brings the new value, the next pass decides again.
    if (!ok) throw new Error(`group ${group}'s citus key changed meanwhile; reading it again`);
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = await this.opts.connect();
    client.on('error', () => {
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
    });
    this.client = client;
    return client;
  }
}
