// The split-brain detector for HA tests: asks every member's PostgreSQL directly (never the
// agent) whether it is a writable primary, and records each round where a group had two.

import pg from 'pg';
import { onCleanup } from './cleanup.ts';
import { waitFor } from './poll.ts';

/** What the checker needs to know of a member: where its PostgreSQL listens and its group. */
export interface PrimaryCheckTarget {
  name: string;
  /** Citus group, or null without Citus; only members of one group are compared. */
  group: number | null;
  pgPort: number;
}

export interface PrimaryCheckerOptions {
  /** Pause between the end of one round and the start of the next (default 100 ms). */
  intervalMs?: number;
  /** Limit for connecting and for the query of one member in one round (default 1000 ms). */
  timeoutMs?: number;
}

export interface PrimaryCheckReport {
  /** One line per round in which some group had more than one writable primary. */
  violations: string[];
  /** Number of completed rounds. */
  samples: number;
}

export interface PrimaryChecker {
  /** The report so far, while polling goes on (e.g. to wait for a number of samples). */
  current(): PrimaryCheckReport;
  /** Ends polling after the current round, closes the connections and reports. */
  stop(): Promise<PrimaryCheckReport>;
}

const WRITABLE_SQL = "select not pg_is_in_recovery() and current_setting('transaction_read_only') = 'off' as writable";

/** One member's pool: a single connection, reopened whenever the server went away. */
function memberPool(target: PrimaryCheckTarget, timeoutMs: number): pg.Pool {
  const pool = new pg.Pool({
    host: '127.0.0.1',
    port: target.pgPort,
    user: 'postgres',
    password: 'super',
    database: 'postgres',
    max: 1,
    connectionTimeoutMillis: timeoutMs,
    // A stopped (SIGSTOP) server accepts nothing and answers nothing: give up on it.
    query_timeout: timeoutMs,
    application_name: 'shardherd-test-primary-checker',
  });
  // An idle connection dies with its server (a crash, a demotion restart); that is expected.
  pool.on('error', () => {});
  // The pool listens only to idle connections. One checked out while the round connects to
  // the other members gets a shutdown's 57P01 or a dropped socket as an 'error' event, which
  // unheard would crash the test run; its next query fails and the round counts it not writable.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** A refused, failed or timed-out connection is null: that member is not a writable primary. */
async function connect(pool: pg.Pool): Promise<pg.PoolClient | null> {
  try {
    return await pool.connect();
  } catch {
    return null;
  }
}

async function isWritable(client: pg.PoolClient | null): Promise<boolean> {
  if (client === null) return false;
  try {
    const result = await client.query<{ writable: boolean }>(WRITABLE_SQL);
    client.release();
    return result.rows[0]?.writable === true;
  } catch (err) {
    // A broken connection must not go back into the pool.
    client.release(err instanceof Error ? err : true);
    return false;
  }
}

function groupLabel(group: number | null): string {
  return group === null ? 'the cluster' : `group ${group}`;
}

/**
 * Polls until stopped, reading `cluster.members` anew each round. A round first gets a
 * connection to every member, then sends all the queries together, so the answers of one round
 * describe the same moment up to the time a query takes (milliseconds), however long a
 * reconnect took: a member still writable while another already is counts, a clean handover
 * (demote, then promote) does not.
 */
export function startPrimaryChecker(
  cluster: { readonly members: readonly PrimaryCheckTarget[] },
  opts: PrimaryCheckerOptions = {},
): PrimaryChecker {
  const intervalMs = opts.intervalMs ?? 100;
  const timeoutMs = opts.timeoutMs ?? 1000;
  // Keyed by member name and port, and created on first use: members added to the cluster
  // while the checker runs (a new Citus group) are checked from the next round on.
  const pools = new Map<string, pg.Pool>();
  const poolFor = (target: PrimaryCheckTarget): pg.Pool => {
    const key = `${target.name}:${target.pgPort}`;
    let pool = pools.get(key);
    if (pool === undefined) {
      pool = memberPool(target, timeoutMs);
      pools.set(key, pool);
    }
    return pool;
  };
  const violations: string[] = [];
  let samples = 0;
  let stopping = false;
  let wake: (() => void) | undefined;

  const sampleRound = async (): Promise<void> => {
    const targets = [...cluster.members];
    const clients = await Promise.all(targets.map((target) => connect(poolFor(target))));
    const sentAt = new Date();
    const answers = await Promise.all(clients.map(isWritable));
    samples++;
    const writableByGroup = new Map<number | null, string[]>();
    targets.forEach((target, i) => {
      if (!answers[i]) return;
      writableByGroup.set(target.group, [...(writableByGroup.get(target.group) ?? []), target.name]);
    });
    for (const [group, names] of writableByGroup) {
      if (names.length > 1) {
        violations.push(`${sentAt.toISOString()} ${groupLabel(group)}: ${names.join(', ')} writable primaries at once`);
      }
    }
  };

  const loop = (async () => {
    while (!stopping) {
      await sampleRound();
      if (stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  })();

  const closePools = async (): Promise<void> => {
    await Promise.all([...pools.values()].map((pool) => pool.end().catch(() => {})));
  };
  let stopped: Promise<PrimaryCheckReport> | undefined;
  const stop = (): Promise<PrimaryCheckReport> => {
    stopped ??= (async () => {
      stopping = true;
      wake?.();
      await loop;
      forget();
      await closePools();
      return { violations: [...violations], samples };
    })();
    return stopped;
  };
  // A test that fails before calling stop() must not leave the polling running.
  const forget = onCleanup('stop the primary checker', async () => {
    await stop();
  });
  return { current: () => ({ violations: [...violations], samples }), stop };
}

/**
 * Waits until the checker has completed `samples` rounds in all. A test file whose steps ran
 * faster than usual still gets the checking it asks for before it stops the checker.
 */
export async function waitForSamples(checker: PrimaryChecker, samples: number): Promise<void> {
  await waitFor(() => checker.current().samples >= samples, {
    timeout: 20_000,
    interval: 50,
    message: `the checker takes ${samples} samples`,
  });
}
