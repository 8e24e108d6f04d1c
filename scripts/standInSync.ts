// The metadata sync of the Citus stand-in (sql/citus-compat.sql), played beside one PostgreSQL
// server as Citus's maintenance daemon plays it inside every server: idle where Citus runs.
// It starts the stand-in's background task queue monitor too (scripts/standInTasks.ts).
import pg from 'pg';
import { errorText } from '../src/errors.ts';
import { ConnectionLoop } from './alarm.ts';
import { startStandInTasks } from './standInTasks.ts';

export interface StandInSyncOptions {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  /** Wait after an attempt that left a worker unsynced (Citus's citus.metadata_sync_retry_interval). */
  retryMs?: number;
  /** Attempt at least this often anyway (Citus's citus.metadata_sync_interval). */
  intervalMs?: number;
  log?: (line: string) => void;
}

export interface StandInSync {
  /** Ends the loops (the sync's and the task monitor's) and closes their connections. */
  stop(): Promise<void>;
}

const CHANNEL = 'citus_compat_metadata_sync';
const RECHECK_MS = 1000;

/** Starts the loop; it never throws and runs until stop(). */
export function startStandInSync(opts: StandInSyncOptions): StandInSync {
  const retryMs = opts.retryMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 60_000;
  const log = opts.log ?? (() => undefined);
  const where = `${opts.host}:${opts.port}/${opts.database}`;
  const loop = new ConnectionLoop(opts, 'citus_compat_sync', 'metadata sync', log);
  const alarm = loop.alarm;
  const tasks = startStandInTasks(opts);

  /** Serves one connection until it breaks or stop(); returns to reconnect. */
  async function serve(client: pg.Client): Promise<void> {
    let broken = false;
    let pending = true;
    let listening = false;
    let lastAttempt = 0;
    let lastFailed = false;
    client.on('error', () => (broken = true));
    client.on('end', () => (broken = true));
    client.on('notification', (n) => {
      if (n.channel !== CHANNEL) return;
      pending = true;
      alarm.wake();
    });
    // The stand-in's "WARNING: failed to sync metadata to host:port", as Citus logs it.
    client.on('notice', (n) => log(`${where}: ${n.severity ?? 'NOTICE'}: ${n.message}`));

    while (!loop.stopped && !broken) {
      const probe = await client.query<{ recovery: boolean; stand_in: boolean }>(
        `SELECT pg_catalog.pg_is_in_recovery() AS recovery,
                EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'citus_compat') AS stand_in`,
      );
      const { recovery, stand_in: standIn } = probe.rows[0] ?? { recovery: true, stand_in: false };
      if (recovery || !standIn) {
        // A replica may be promoted and the stand-in installed later; real Citus never is.
        if (listening) await client.query(`UNLISTEN ${CHANNEL}`);
        listening = false;
        await alarm.sleep(RECHECK_MS);
        continue;
      }
      if (!listening) {
        await client.query(`LISTEN ${CHANNEL}`);
        listening = true;
        pending = true;
      }

      const now = Date.now();
      // After a failed attempt nothing starts before retryMs, notification or not (as Citus).
      const earliest = lastFailed ? lastAttempt + retryMs : 0;
      const due = lastFailed ? lastAttempt + retryMs : lastAttempt + intervalMs;
      const run = pending ? now >= earliest : now >= due;
      if (!run) {
        await alarm.sleep(Math.min((pending ? earliest : due) - now, RECHECK_MS));
        continue;
      }
      pending = false;
      lastAttempt = now;
      try {
        const result = await client.query<{ unsynced: number }>('SELECT citus_compat.sync_metadata() AS unsynced');
        const unsynced = Number(result.rows[0]?.unsynced ?? 0);
        lastFailed = unsynced > 0;
        if (lastFailed) log(`${where}: ${unsynced} metadata worker(s) still unsynced; retrying in ${retryMs} ms`);
      } catch (err) {
        lastFailed = true;
        log(`${where}: metadata sync failed: ${errorText(err)}`);
      }
    }
  }

  loop.start(serve);

  return {
    stop: async () => {
      await Promise.all([loop.stop(), tasks.stop()]);
    },
  };
}
