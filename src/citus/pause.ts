// Coordinator side of the pause protocol (DESIGN.md §5): while a worker group changes primary, a
// transaction of its own holds the group's primary row at a '-demoted' address, so writes routed
// through the coordinator to that group wait instead of failing, then commits the new address.
import type pg from 'pg';
import { KEY } from '../dcs/keys.ts';
import type { ClusterView, DcsEvent, GroupView } from '../dcs/types.ts';
import type { Logger } from '../log.ts';
import { desiredTopology } from './desired.ts';
import { holdGroups } from './hold.ts';
import { readMetadata, runStatements, type MetadataRows, type Queryable } from './metadataStore.ts';
import { planMetadata, type PlanOptions } from './plan.ts';

/**
 * One event of a worker leader, as `POST /citus` carries it (Patroni's body). Units differ from
 * Patroni's wire format on one field: Patroni sends `cooldown` in seconds and multiplies by 1000
 * on the coordinator; here it is already milliseconds, so the HTTP layer converts.
 */
export interface PauseEvent {
  /** `before_demote`: the sender is about to stop being primary; `after_promote`: it now is. */
  type: 'before_demote' | 'after_promote';
  group: number;
  /** Member name of the sender. */
  leader: string;
  /** Seconds from the start of the pause to its hard deadline (Patroni sends its ttl). */
  timeout: number;
  /** `lock_cooldown` of citus_update_node, milliseconds: how long writes in flight may finish. */
  cooldown: number;
}

/**
 * What handleEvent answers, shaped for an HTTP reply: 200 done, 400 malformed or not a worker
 * group, 404 unknown group, 409 the sender is not the leader the event needs, 503 the pause
 * could not be held or ended by rollback (deadline, error), or the manager is not running.
 */
export interface PauseAnswer {
  ok: boolean;
  status: number;
  message: string;
}

/** Counters for metrics. Durations run from the event (or leader loss) to commit or rollback. */
export interface PauseStats {
  /** Groups with a pause open now (taking its locks, holding them or ending), sorted. */
  open: number[];
  /** Of those, the groups whose locks are held now: routed writes to them wait. */
  held: number[];
  opened: number;
  committed: number;
  rolledBack: number;
  /** Durations of the last ended pauses (up to 100), milliseconds, oldest first. */
  durationsMs: number[];
  /** Longest pause since start, milliseconds; null before the first ended. */
  maxDurationMs: number | null;
}

/** Deadline and cooldown of a pause opened by a leader key vanishing (nobody sent them). */
export interface UnplannedPauseSettings {
  /** Seconds; a new leader normally registers within the HA ttl. */
  timeout: number;
  cooldownMs: number;
}

export const DEFAULT_UNPLANNED_PAUSE: UnplannedPauseSettings = { timeout: 30, cooldownMs: 10000 };

export interface GroupPausesOptions {
  /** Opens a new connection to the coordinator's Citus database (one per pause). */
  connect: () => Promise<pg.Client>;
  /** The manager's live view of etcd, current up to the last watch event; null when not running. */
  view: () => ClusterView | null;
  logger: Logger;
  planOptions: PlanOptions;
  /** Called when a pause ended (committed or rolled back) or metadata may need a reconcile. */
  metadataChanged: (group: number) => void;
  unplanned?: UnplannedPauseSettings;
  /** How long after_promote waits for the watch to show the sender as running primary. */
  viewWaitMs?: number;
}

type Cause = { kind: 'planned'; requestedBy: string } | { kind: 'unplanned' };

type PauseState = 'opening' | 'held' | 'committing' | 'ending';

interface Pause {
  group: number;
  cause: Cause;
  cooldownMs: number;
  timeoutMs: number;
  startedAt: number;
  timer: NodeJS.Timeout | null;
  state: PauseState;
  client: pg.Client | null;
  pid: number | null;
  /** Statements sent on the pause's connection and not yet answered. */
  inFlight: number;
  /** Where the primary row pointed before the pause. */
  row: { nodeid: number; host: string; port: number } | null;
  /** How the locks are held: Citus 12.1+'s citus_pause_node_within_txn, or the older rename. */
  method: 'pause' | 'rename' | null;
  /** Settles once the locks are held (true) or the pause is over before that (false). */
  opened: Promise<boolean>;
  resolveOpened: (held: boolean) => void;
  /** The rollback in progress or done; set once. */
  ending: Promise<void> | null;
  /** The commit in progress; set once. */
  completing: Promise<PauseAnswer> | null;
}

const DEMOTED_SUFFIX = '-demoted';
const DEFAULT_VIEW_WAIT_MS = 2000;
/** A ROLLBACK on an idle connection answers in milliseconds; longer means the link is stuck. */
const ROLLBACK_GRACE_MS = 300;
const KEPT_DURATIONS = 100;

/**
 * Open pauses, at most one per worker group, each on its own connection. The manager owns one,
 * asks `held()` at every reconcile so it leaves paused groups alone, and feeds it watch events.
 */
export class GroupPauses {
  private readonly connect: () => Promise<pg.Client>;
  private readonly view: () => ClusterView | null;
  private readonly logger: Logger;
  private readonly planOptions: PlanOptions;
  private readonly metadataChanged: (group: number) => void;
  private readonly unplanned: UnplannedPauseSettings;
  private readonly viewWaitMs: number;

  private readonly pauses = new Map<number, Pause>();
  private viewWaiters = new Set<() => void>();
  private stopped = false;
  private counters = { opened: 0, committed: 0, rolledBack: 0 };
  private durations: number[] = [];
  private maxDuration: number | null = null;

  constructor(options: GroupPausesOptions) {
    this.connect = options.connect;
    this.view = options.view;
    this.logger = options.logger.child({ component: 'citus-pause' });
    this.planOptions = options.planOptions;
    this.metadataChanged = options.metadataChanged;
    this.unplanned = options.unplanned ?? DEFAULT_UNPLANNED_PAUSE;
    this.viewWaitMs = options.viewWaitMs ?? DEFAULT_VIEW_WAIT_MS;
  }

  /** Groups whose rows the pause transactions own: the reconcile must plan them as they are. */
  held(): ReadonlySet<number> {
    return new Set(this.pauses.keys());
  }

  stats(): PauseStats {
    return {
      open: [...this.pauses.keys()].sort((a, b) => a - b),
      held: [...this.pauses.values()].filter((p) => p.state === 'held' || p.state === 'committing').map((p) => p.group).sort((a, b) => a - b),
      ...this.counters,
      durationsMs: [...this.durations],
      maxDurationMs: this.maxDuration,
    };
  }

  /**
   * The entry point of `POST /citus`. before_demote resolves once the group's locks are held
   * (or the attempt failed); after_promote once the new address is committed (or not).
   */
  async handleEvent(event: PauseEvent): Promise<PauseAnswer> {
    const problem = malformed(event);
    if (problem !== null) return this.ignore(event, 400, problem);
    if (this.stopped) return this.ignore(event, 503, 'the Citus manager is stopping');
    const view = this.view();
    if (view === null) return this.ignore(event, 503, 'the Citus manager is not running');
    if (event.group < 1) return this.ignore(event, 400, `group ${event.group} is not a worker group`);
    return event.type === 'before_demote' ? this.beforeDemote(event, view) : this.afterPromote(event);
  }

  /** Leader and member events of the manager's watch, after they were queued for its view. */
  onEvents(events: readonly DcsEvent[]): void {
    if (this.stopped) return;
    const waiters = this.viewWaiters;
    this.viewWaiters = new Set();
    for (const wake of waiters) wake();
    const groups = new Set<number>();
    for (const e of events) if (e.group !== null && e.group >= 1) groups.add(e.group);
    if (groups.size === 0) return;
    const view = this.view();
    if (view === null) return;
    for (const group of groups) {
      const pause = this.pauses.get(group);
      if (pause === undefined) {
        const lost = events.some((e) => e.group === group && e.name === KEY.leader && e.type === 'delete');
        // A batch may carry the loss and the next leader's key together: nothing to cover then.
        if (lost && groupOf(view, group)?.leader == null) this.openUnplanned(group);
      } else if (pause.cause.kind === 'unplanned') {
        this.finishUnplannedIfLed(pause);
      }
    }
  }

  /** Rolls every open pause back (the manager is stopping) and refuses new ones. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of this.viewWaiters) wake();
    this.viewWaiters.clear();
    await Promise.all([...this.pauses.values()].map((p) => this.rollback(p, 'the Citus manager is stopping')));
  }

  // ---- events ---------------------------------------------------------------------------

  private async beforeDemote(event: PauseEvent, view: ClusterView): Promise<PauseAnswer> {
    const group = groupOf(view, event.group);
    if (group === undefined) return this.ignore(event, 404, `group ${event.group} is unknown`);
    const leader = group.leader?.name ?? null;
    if (leader !== event.leader) {
      return this.ignore(event, 409, `${event.leader} is not the leader of group ${event.group} (the leader is ${leader ?? 'nobody'})`);
    }
    const existing = this.pauses.get(event.group);
    if (existing !== undefined) {
      // Retries of the same request must not stretch the pause: the deadline stays.
      const held = await existing.opened;
      const left = Math.max(0, Math.round(existing.startedAt + existing.timeoutMs - performance.now()));
      return held
        ? { ok: true, status: 200, message: `group ${event.group} is already paused; its deadline stays (${left} ms left)` }
        : { ok: false, status: 503, message: `group ${event.group}: the pause in progress could not hold its locks` };
    }
    const pause = this.createPause(event.group, { kind: 'planned', requestedBy: event.leader }, event.timeout * 1000, event.cooldown);
    this.logger.info(
      { action: 'pause-open', group: event.group, member: event.leader, timeoutMs: pause.timeoutMs, cooldownMs: pause.cooldownMs },
      'before_demote: pausing writes to the group',
    );
    const error = await this.open(pause);
    if (error !== null) return { ok: false, status: error.status, message: error.message };
    return {
      ok: true,
      status: 200,
      message: `group ${event.group} paused: its primary row is locked until after_promote or the deadline in ${pause.timeoutMs} ms`,
    };
  }

  private async afterPromote(event: PauseEvent): Promise<PauseAnswer> {
    // The sender's member key may reach us a little after its request: wait for it, bounded.
    const check = await this.waitForView(() => this.runningLeader(event.group, event.leader));
    if (check !== null) return this.ignore(event, check.status, check.message);
    const pause = this.pauses.get(event.group);
    if (pause === undefined) {
      // Nothing held (no before_demote, or it already ended): the reconcile moves the row.
      this.metadataChanged(event.group);
      return { ok: true, status: 200, message: `group ${event.group} was not paused; the reconcile will register ${event.leader}` };
    }
    if (!(await pause.opened)) {
      return { ok: false, status: 503, message: `group ${event.group}: the pause ended before its locks were held` };
    }
    return this.complete(pause, `after_promote from ${event.leader}`);
  }

  private ignore(event: PauseEvent, status: number, reason: string): PauseAnswer {
    this.logger.warn({ action: 'pause-ignore', type: event.type, group: event.group, member: event.leader, reason }, 'citus event ignored');
    return { ok: false, status, message: reason };
  }

  // ---- the unplanned case ---------------------------------------------------------------

  private openUnplanned(group: number): void {
    const pause = this.createPause(group, { kind: 'unplanned' }, this.unplanned.timeout * 1000, this.unplanned.cooldownMs);
    this.logger.warn(
      { action: 'pause-open', group, reason: 'leader key vanished', timeoutMs: pause.timeoutMs },
      'worker leader lost: pausing writes to the group until a new leader runs',
    );
    void this.open(pause).then((error) => {
      if (error === null) this.finishUnplannedIfLed(pause);
    });
  }

  private finishUnplannedIfLed(pause: Pause): void {
    if (pause.state !== 'held') return;
    const leader = groupOf(this.view(), pause.group)?.leader?.name;
    if (leader == null || this.runningLeader(pause.group, leader) !== null) return;
    void this.complete(pause, `new leader ${leader} registered`);
  }

  // ---- one pause ------------------------------------------------------------------------

  private createPause(group: number, cause: Cause, timeoutMs: number, cooldownMs: number): Pause {
    let resolveOpened: (held: boolean) => void = () => undefined;
    const opened = new Promise<boolean>((resolve) => (resolveOpened = resolve));
    const pause: Pause = {
      group,
      cause,
      cooldownMs: Math.round(cooldownMs),
      timeoutMs: Math.round(timeoutMs),
      startedAt: performance.now(),
      timer: null,
      state: 'opening',
      client: null,
      pid: null,
      inFlight: 0,
      row: null,
      method: null,
      opened,
      resolveOpened,
      ending: null,
      completing: null,
    };
    // The deadline holds whatever else happens: even a statement still running is cut short.
    pause.timer = setTimeout(() => {
      void this.rollback(pause, `deadline of ${pause.timeoutMs} ms reached without ${pause.cause.kind === 'planned' ? 'after_promote' : 'a new running leader'}`);
    }, pause.timeoutMs);
    this.pauses.set(group, pause);
    this.counters.opened++;
    return pause;
  }

  /** BEGIN, bound the waits, move the primary row to '<host>-demoted'. Null once the locks are held. */
  private async open(pause: Pause): Promise<{ status: number; message: string } | null> {
    const fail = async (status: number, message: string) => {
      await this.rollback(pause, message);
      return { status, message };
    };
    try {
      const client = await this.connect();
      client.on('error', (err) => {
        this.logger.warn({ action: 'pause-connection', group: pause.group, err: err.message }, 'pause connection lost');
      });
      pause.client = client;
      if (pause.ending !== null) {
        await client.end().catch(() => undefined);
        return { status: 503, message: `group ${pause.group}: the pause ended while connecting` };
      }
      const q = queryOn(pause);
      pause.pid = Number((await q.query('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0].pid);
      await q.query('BEGIN');
      // lock_timeout bounds the wait for the locks; a server-side idle limit ends the transaction
      // even if this process freezes and its timer never fires.
      await q.query(
        `SELECT pg_catalog.set_config('lock_timeout', $1, true), pg_catalog.set_config('statement_timeout', '0', true),
                pg_catalog.set_config('idle_in_transaction_session_timeout', $2, true)`,
        [String(pause.timeoutMs), String(pause.timeoutMs + 1000)],
      );
      const found = await q.query(
        `SELECT nodeid, nodename, nodeport FROM pg_catalog.pg_dist_node
          WHERE groupid = $1 AND noderole = 'primary' AND nodecluster = 'default' ORDER BY nodeid LIMIT 1`,
        [pause.group],
      );
      if (found.rowCount === 0) return await fail(404, `group ${pause.group} has no primary row in pg_dist_node`);
      const row = { nodeid: Number(found.rows[0].nodeid), host: String(found.rows[0].nodename), port: Number(found.rows[0].nodeport) };
      pause.row = row;
      // Citus 12.1+ takes the group's locks without renaming anything or unsyncing the workers;
      // older Citus only has the rename to a name that does not resolve.
      const probe = await q.query(
        "SELECT pg_catalog.to_regprocedure('pg_catalog.citus_pause_node_within_txn(integer,boolean,integer)') IS NOT NULL AS has",
      );
      pause.method = probe.rows[0]?.has === true ? 'pause' : 'rename';
      if (pause.method === 'pause') {
        await q.query('SELECT pg_catalog.citus_pause_node_within_txn($1, true, $2)', [row.nodeid, pause.cooldownMs]);
      } else {
        await q.query('SELECT pg_catalog.citus_update_node($1, $2, $3, true, $4)', [row.nodeid, row.host + DEMOTED_SUFFIX, row.port, pause.cooldownMs]);
      }
      if (pause.ending !== null) return { status: 503, message: `group ${pause.group}: the pause ended while taking its locks` };
      pause.state = 'held';
      pause.resolveOpened(true);
      this.logger.info(
        { action: 'pause-held', group: pause.group, nodeid: row.nodeid, ms: Math.round(performance.now() - pause.startedAt) },
        'group paused: primary row locked',
      );
      return null;
    } catch (err) {
      if (pause.ending !== null) {
        await pause.ending;
        return { status: 503, message: `group ${pause.group}: the pause was rolled back while taking its locks` };
      }
      return await fail(503, `group ${pause.group}: could not take the locks: ${describe(err)}`);
    }
  }

  /** Repoints the group's rows to the leader the view shows, in the paused transaction, and commits. */
  private complete(pause: Pause, why: string): Promise<PauseAnswer> {
    pause.completing ??= this.commit(pause, why);
    return pause.completing;
  }

  private async commit(pause: Pause, why: string): Promise<PauseAnswer> {
    if (pause.state !== 'held') return { ok: false, status: 503, message: `group ${pause.group}: the pause is already ending` };
    pause.state = 'committing';
    const group = pause.group;
    try {
      const view = this.view();
      if (view === null) throw new Error('the Citus manager is not running');
      const q = queryOn(pause);
      const rows = await readMetadata(q);
      // The planner, told to keep every other group as its rows are, plans this group alone.
      const others = new Set([...rows.nodes.map((r) => r.groupid), ...view.groups.map((g) => g.group ?? -1)].filter((g) => g !== group));
      const desired = holdGroups(desiredTopology(view), rows, others);
      const target = desired.groups.find((g) => g.group === group)?.primary;
      if (target?.kind !== 'node') throw new Error(`etcd shows no running primary for group ${group}`);
      const from = pause.method === 'rename' ? asBeforePause(rows, pause.row, target.node) : rows;
      // Only this group's repoint: adds and removes contact every metadata worker and need them
      // synced, which a pause cannot promise; the reconcile does them once the pause is over.
      const plan = planMetadata(desired, from.nodes, from.poolinfo, this.planOptions)
        .local.filter((c) => c.kind === 'repoint' && c.group === group)
        .flatMap((c) => c.statements);
      await runStatements(q, plan, (s, i) =>
        this.logger.info({ action: 'citus-metadata', group, step: i + 1, of: plan.length, sql: s.sql, params: s.params }, s.why),
      );
      // Committing the temporary name would send every write to a host that does not exist.
      const after = await readMetadata(q);
      const primary = after.nodes.find((r) => r.groupid === group && r.noderole === 'primary' && r.nodecluster === 'default');
      if (primary === undefined || primary.nodename !== target.node.host || primary.nodeport !== target.node.port) {
        throw new Error(`the plan did not move the primary row to ${target.node.host}:${target.node.port}`);
      }
      if (pause.ending !== null) throw new Error('the pause is being rolled back');
      await q.query('COMMIT');
      if (pause.ending !== null) {
        // The deadline struck while COMMIT was on its way; the server's answer says it committed.
        await pause.ending;
      }
      // Committed: the deadline no longer applies (a rollback now would undo nothing).
      if (pause.timer !== null) clearTimeout(pause.timer);
      pause.timer = null;
      const moved = pause.row !== null && (pause.row.host !== target.node.host || pause.row.port !== target.node.port);
      if (moved && pause.ending === null) await this.recoverPrepared(q, group);
      const ms = this.finish(pause, 'committed');
      this.logger.info(
        { action: 'pause-commit', group, reason: why, member: target.node.member, statements: plan.length, durationMs: ms },
        'group resumed on its new primary',
      );
      return { ok: true, status: 200, message: `group ${group} now points at ${target.node.host}:${target.node.port}; paused ${ms} ms` };
    } catch (err) {
      const reason = pause.ending !== null ? 'the pause was rolled back while committing' : `could not repoint: ${describe(err)}`;
      await this.rollback(pause, `${why}: ${reason}`);
      return { ok: false, status: 503, message: `group ${group}: ${reason}` };
    }
  }

  /** Prepared transactions the old primary left on the promoted node hold locks until resolved. */
  private async recoverPrepared(q: Queryable, group: number): Promise<void> {
    try {
      const r = await q.query('SELECT pg_catalog.recover_prepared_transactions() AS recovered');
      this.logger.info({ action: 'recover-prepared', group, recovered: Number(r.rows[0]?.recovered ?? 0) }, 'prepared transactions recovered');
    } catch (err) {
      this.logger.warn({ action: 'recover-prepared', group, err: describe(err) }, 'could not recover prepared transactions; Citus retries within a minute');
    }
  }

  /** Ends the pause without a change, whatever it is doing; the reconcile then corrects the group. */
  private rollback(pause: Pause, reason: string): Promise<void> {
    pause.ending ??= (async () => {
      pause.state = 'ending';
      if (pause.client !== null) await this.abandonTransaction(pause, pause.client);
      const ms = this.finish(pause, 'rolledBack');
      this.logger.warn({ action: 'pause-rollback', group: pause.group, reason, durationMs: ms }, 'pause rolled back');
    })();
    return pause.ending;
  }

  /** ROLLBACK when the connection is idle; when a statement runs (or ROLLBACK hangs), end the backend. */
  private async abandonTransaction(pause: Pause, client: pg.Client): Promise<void> {
    let done = false;
    if (pause.inFlight === 0) {
      done = await withTimeout(client.query('ROLLBACK').then(() => true, () => false), ROLLBACK_GRACE_MS, false);
    }
    if (!done && pause.pid !== null) await this.terminate(pause.pid);
    await withTimeout(client.end().catch(() => undefined), ROLLBACK_GRACE_MS, undefined);
  }

  /** Ends a backend from a second connection: its transaction is rolled back and its locks freed. */
  private async terminate(pid: number): Promise<void> {
    let side: pg.Client | null = null;
    try {
      side = await this.connect();
      side.on('error', () => undefined);
      // With a timeout, the call returns once the backend is gone (PostgreSQL 14+).
      await side.query('SELECT pg_catalog.pg_terminate_backend($1::int, 1000)', [pid]);
    } catch (err) {
      this.logger.error({ action: 'pause-terminate', pid, err: describe(err) }, 'could not end the pause backend');
    } finally {
      await side?.end().catch(() => undefined);
    }
  }

  private finish(pause: Pause, outcome: 'committed' | 'rolledBack'): number {
    if (pause.timer !== null) clearTimeout(pause.timer);
    pause.timer = null;
    pause.resolveOpened(false);
    const ms = Math.round(performance.now() - pause.startedAt);
    if (this.pauses.get(pause.group) === pause) {
      this.pauses.delete(pause.group);
      this.counters[outcome]++;
      this.durations.push(ms);
      if (this.durations.length > KEPT_DURATIONS) this.durations.shift();
      this.maxDuration = Math.max(this.maxDuration ?? 0, ms);
      if (outcome === 'committed') void pause.client?.end().catch(() => undefined);
      this.metadataChanged(pause.group);
    }
    return ms;
  }

  // ---- the view -------------------------------------------------------------------------

  /** Null when `member` leads `group` and runs as primary in the view; otherwise why not. */
  private runningLeader(group: number, member: string): { status: number; message: string } | null {
    const view = this.view();
    if (view === null) return { status: 503, message: 'the Citus manager is not running' };
    const g = groupOf(view, group);
    if (g === undefined) return { status: 404, message: `group ${group} is unknown` };
    const leader = g.leader?.name ?? null;
    if (leader !== member) return { status: 409, message: `${member} is not the leader of group ${group} (the leader is ${leader ?? 'nobody'})` };
    const m = g.members.find((x) => x.name === member);
    const role = m?.data.role;
    if (m === undefined || m.data.state !== 'running' || (role !== 'primary' && role !== 'master')) {
      return { status: 409, message: `${member} does not run as primary of group ${group} (${m ? `${m.data.state} as ${m.data.role}` : 'no member key'})` };
    }
    return null;
  }

  /** Polls `check` on each watch event until it passes (null) or viewWaitMs is over. */
  private async waitForView<T>(check: () => T | null): Promise<T | null> {
    const until = performance.now() + this.viewWaitMs;
    for (;;) {
      const result = check();
      if (result === null || this.stopped) return result;
      const left = until - performance.now();
      if (left <= 0) return result;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.viewWaiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** A Queryable over the pause's connection that counts statements in flight. */
function queryOn(pause: Pause): Queryable {
  return {
    query: async (text: string, values?: unknown[]) => {
      const client = pause.client;
      if (client === null) throw new Error('no connection');
      pause.inFlight++;
      try {
        return await client.query(text, values);
      } finally {
        pause.inFlight--;
      }
    },
  };
}

function groupOf(view: ClusterView | null, group: number): GroupView | undefined {
  return view?.groups.find((g) => g.group === group);
}

/**
 * The rows with the paused primary row back at its address from before the pause. Planned from
 * there, a promoted secondary is a swap of addresses (row updates, which take no table lock)
 * instead of a remove and an add, which would wait for the pg_dist_node lock that another
 * group's open pause holds. Statements address the paused row by nodeid, so the name it has in
 * this transaction does not matter.
 */
function asBeforePause(rows: MetadataRows, row: Pause['row'], target: { host: string; port: number }): MetadataRows {
  // Back on the same node (a restart): plan from the '-demoted' name so the row is moved back.
  if (row === null || (row.host === target.host && row.port === target.port)) return rows;
  return { ...rows, nodes: rows.nodes.map((r) => (r.nodeid === row.nodeid ? { ...r, nodename: row.host, nodeport: row.port } : r)) };
}

function malformed(event: PauseEvent): string | null {
  const e = event as Partial<Record<keyof PauseEvent, unknown>>;
  if (e.type !== 'before_demote' && e.type !== 'after_promote') return `unknown event type ${JSON.stringify(e.type)}`;
  if (typeof e.group !== 'number' || !Number.isInteger(e.group)) return 'group must be an integer';
  if (typeof e.leader !== 'string' || e.leader === '') return 'leader must be a member name';
  if (typeof e.timeout !== 'number' || !Number.isFinite(e.timeout) || e.timeout <= 0) return 'timeout must be a positive number of seconds';
  if (typeof e.cooldown !== 'number' || !Number.isFinite(e.cooldown) || e.cooldown < 0) return 'cooldown must be a number of milliseconds';
  return null;
}

function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise<T>((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
