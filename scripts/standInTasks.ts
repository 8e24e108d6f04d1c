// The background task queue monitor of the Citus stand-in (sql/citus-compat.sql), played beside
// one PostgreSQL server as Citus's maintenance daemon starts it inside the coordinator primary:
// it runs the tasks of pg_dist_background_task (the rebalancer's moves) one at a time, and the
// deferred drops of pg_dist_cleanup. Idle on a standby, a worker, and where Citus itself runs.
import pg from 'pg';
import { errorText } from '../src/errors.ts';
import { ConnectionLoop } from './alarm.ts';

export interface StandInTasksOptions {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  log?: (line: string) => void;
}

export interface StandInTasks {
  /** Ends the loop and closes its connection; a task in flight finishes in the server. */
  stop(): Promise<void>;
}

const RECHECK_MS = 1000;

interface Probe {
  eligible: boolean;
  /** citus.background_task_queue_interval: how often Citus looks for runnable tasks (ms). */
  queueIntervalMs: number;
  /** citus.defer_shard_delete_interval: how often Citus drops what pg_dist_cleanup lists (ms). */
  cleanupIntervalMs: number;
}

/** Starts the loop; it never throws and runs until stop(). */
export function startStandInTasks(opts: StandInTasksOptions): StandInTasks {
  const log = opts.log ?? (() => undefined);
  const where = `${opts.host}:${opts.port}/${opts.database}`;
  const loop = new ConnectionLoop(opts, 'citus background task queue monitor', 'task monitor', log);
  const alarm = loop.alarm;

  /** Whether this server is the stand-in's coordinator primary, and its intervals. */
  async function probe(client: pg.Client): Promise<Probe> {
    const r = await client.query<{ eligible: boolean }>(
      `SELECT NOT pg_catalog.pg_is_in_recovery()
              AND to_regprocedure('citus_compat.claim_background_task()') IS NOT NULL
              AND coalesce((SELECT max(groupid) FROM pg_catalog.pg_dist_local_group), 0) = 0 AS eligible`,
    );
    if (r.rows[0]?.eligible !== true) return { eligible: false, queueIntervalMs: 0, cleanupIntervalMs: 0 };
    const s = await client.query<{ queue: string; cleanup: string }>(
      `SELECT citus_compat.setting_ms('citus.background_task_queue_interval', 5000) AS queue,
              citus_compat.setting_ms('citus.defer_shard_delete_interval', 15000) AS cleanup`,
    );
    return { eligible: true, queueIntervalMs: Number(s.rows[0]?.queue), cleanupIntervalMs: Number(s.rows[0]?.cleanup) };
  }

  /** Runs every task that is runnable now, one after another, as Citus's monitor does. */
  async function runTasks(client: pg.Client): Promise<void> {
    while (!loop.stopped) {
      const claimed = await client.query<{ task_id: string; job_id: string; command: string }>(
        'SELECT task_id, job_id, command FROM citus_compat.claim_background_task()',
      );
      const task = claimed.rows[0];
      if (task === undefined) return;
      log(`${where}: task jobid/taskid started: ${task.job_id}/${task.task_id}: ${task.command}`);
      try {
        const r = await client.query<{ outcome: string | null }>(
          'SELECT citus_compat.run_background_task($1)::text AS outcome',
          [task.task_id],
        );
        log(`${where}: task jobid/taskid ${task.job_id}/${task.task_id}: ${r.rows[0]?.outcome ?? 'not run'}`);
      } catch (err) {
        // The task is still marked running: a new connection starts the monitor again, and
        // its start makes the task runnable (as a restarted Citus monitor does).
        log(`${where}: task jobid/taskid ${task.job_id}/${task.task_id} was interrupted: ${errorText(err)}`);
        throw err;
      }
    }
  }

  /** Serves one connection until it breaks or stop(); returns to reconnect. */
  async function serve(client: pg.Client): Promise<void> {
    let broken = false;
    let monitor = false;
    let lastCleanup = 0;
    client.on('error', () => (broken = true));
    client.on('end', () => (broken = true));
    client.on('notice', (n) => log(`${where}: ${n.severity ?? 'NOTICE'}: ${n.message}`));

    while (!loop.stopped && !broken) {
      const state = await probe(client);
      if (!state.eligible) {
        if (monitor) {
          await client.query(
            `SELECT pg_catalog.pg_advisory_unlock(citus_compat.lock_key('background task monitor'), 0)`,
          );
          monitor = false;
        }
        await alarm.sleep(RECHECK_MS);
        continue;
      }
      if (!monitor) {
        // One monitor per database, as Citus's session lock on its monitor ensures.
        const locked = await client.query<{ locked: boolean }>(
          `SELECT pg_catalog.pg_try_advisory_lock(citus_compat.lock_key('background task monitor'), 0) AS locked`,
        );
        if (locked.rows[0]?.locked !== true) {
          await alarm.sleep(Math.max(state.queueIntervalMs, RECHECK_MS));
          continue;
        }
        monitor = true;
        // Tasks a previous monitor (or the server this one was promoted from) left running.
        const reset = await client.query<{ n: number }>('SELECT citus_compat.reset_running_background_tasks() AS n');
        const n = Number(reset.rows[0]?.n ?? 0);
        if (n > 0) log(`${where}: ${n} task(s) left running are runnable again`);
      }
      if (state.queueIntervalMs > 0) await runTasks(client);
      if (state.cleanupIntervalMs > 0 && Date.now() - lastCleanup >= state.cleanupIntervalMs) {
        lastCleanup = Date.now();
        try {
          const r = await client.query<{ n: number }>('SELECT citus_compat.cleanup_orphaned_resources() AS n');
          const dropped = Number(r.rows[0]?.n ?? 0);
          if (dropped > 0) log(`${where}: cleaned up ${dropped} orphaned resources`);
        } catch (err) {
          log(`${where}: cleanup of orphaned resources failed: ${errorText(err)}`);
        }
      }
      const wait = state.queueIntervalMs > 0 ? state.queueIntervalMs : RECHECK_MS;
      await alarm.sleep(Math.min(wait, state.cleanupIntervalMs > 0 ? state.cleanupIntervalMs : wait));
    }
  }

  loop.start(serve);

  return {
    stop: () => loop.stop(),
  };
}
