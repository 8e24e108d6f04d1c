// Shared steps of the HA integration tests: start a three-member group under the two-primaries
// checker, write and read marker rows, and read the agents' JSON log lines.

import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  onCleanup,
  readLeaderKey,
  startCluster,
  startPrimaryChecker,
  waitFor,
  waitForLeader,
  waitForReplicas,
  type PrimaryChecker,
  type StartClusterOptions,
  type TestCluster,
  type TestMember,
} from '../../harness/index.ts';

/** One pino line of an agent log. */
export interface LogLine {
  time: number;
  level: number;
  msg: string;
  action?: string;
  task?: string;
  reason?: string;
  [field: string]: unknown;
}

/** Every JSON line the member's agents wrote, all runs, in order; other output is skipped. */
export function logLines(member: TestMember): LogLine[] {
  let text: string;
  try {
    text = readFileSync(member.logFile, 'utf8');
  } catch {
    return [];
  }
  const lines: LogLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(raw) as LogLine);
    } catch {
      // A line cut short by SIGKILL.
    }
  }
  return lines;
}

/** Log lines whose message or reason matches, optionally only those written at or after `since` (ms). */
export function logMatches(member: TestMember, pattern: RegExp, since = 0): LogLine[] {
  return logLines(member).filter((l) => l.time >= since && (pattern.test(l.msg) || pattern.test(l.reason ?? '')));
}

/** With SHARDHERD_TEST_LOG_DIR set, the agents' logs are copied there before the temp dirs go. */
function keepLogs(cluster: TestCluster): void {
  const root = process.env.SHARDHERD_TEST_LOG_DIR;
  if (!root) return;
  onCleanup(`keep the agent logs of ${cluster.scope}`, () => {
    const dir = join(root, cluster.scope);
    mkdirSync(dir, { recursive: true });
    for (const m of cluster.members) {
      try {
        cpSync(m.logFile, join(dir, `${m.name}.log`));
      } catch {
        // Never started: no log.
      }
    }
  });
}

export interface RunningGroup {
  cluster: TestCluster;
  checker: PrimaryChecker;
  leader: TestMember;
  replicas: TestMember[];
}

/** Starts a group of three (by default) under the checker and waits for one leader and streaming replicas. */
export async function startGroup(opts: StartClusterOptions = {}): Promise<RunningGroup> {
  const cluster = await startCluster({ membersPerGroup: 3, ...opts });
  keepLogs(cluster);
  const checker = startPrimaryChecker(cluster);
  cluster.startAll();
  const leader = await waitForLeader(cluster, null, { timeout: 60_000 });
  const replicas = await waitForReplicas(cluster, null, { timeout: 60_000 });
  return { cluster, checker, leader, replicas };
}

/** Stops every agent and asserts that the checker, which ran all along, saw at most one writable primary. */
export async function finishGroup(group: RunningGroup): Promise<void> {
  await group.cluster.stopAll();
  const report = await group.checker.stop();
  assert.ok(report.samples > 0, 'the primary checker took samples');
  assert.deepEqual(report.violations, [], 'never two writable primaries at once');
}

export async function createMarkerTable(primary: TestMember): Promise<void> {
  await primary.query('create table if not exists marker (id int primary key, note text)');
}

export async function insertMarker(primary: TestMember, id: number, note: string): Promise<void> {
  await primary.query('insert into marker (id, note) values ($1, $2)', [id, note]);
}

/** Waits until the member's PostgreSQL returns the marker row (replication caught up). */
export async function waitForMarker(member: TestMember, id: number, note: string, timeout = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const result = await member.query<{ note: string }>('select note from marker where id = $1', [id]);
      return result.rows[0]?.note === note;
    },
    { timeout, interval: 100, message: `${member.name} reads marker row ${id}` },
  );
}

/** A primary's current timeline, from the name of the WAL file it writes to. */
export async function primaryTimeline(primary: TestMember): Promise<number> {
  const result = await primary.query<{ tli: string }>(
    'select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) as tli',
  );
  return Number.parseInt(result.rows[0]?.tli ?? '', 16);
}

export interface LeaderKeyRecorder {
  /** Every distinct value the leader key had, in order (null: no key). */
  seen(): (string | null)[];
  stop(): Promise<(string | null)[]>;
}

/** Polls the group's leader key every 100 ms and records each change, to show who led throughout. */
export function recordLeaderKey(cluster: TestCluster): LeaderKeyRecorder {
  const seen: (string | null)[] = [];
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      try {
        const name = await readLeaderKey(cluster.etcd, cluster.scope, null);
        if (seen.length === 0 || seen[seen.length - 1] !== name) seen.push(name);
      } catch {
        // etcd busy for a moment: the next round reads again.
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    seen: () => [...seen],
    stop: async () => {
      stopping = true;
      await loop;
      return [...seen];
    },
  };
}

/** Waits until the leader key names a member other than `old`; returns that member. */
export async function waitForLeaderKeyMovedFrom(
  cluster: TestCluster,
  old: TestMember,
  timeout: number,
): Promise<TestMember> {
  const name = await waitFor(
    async () => {
      const current = await readLeaderKey(cluster.etcd, cluster.scope, null);
      return current !== null && current !== old.name ? current : '';
    },
    { timeout, interval: 50, message: `a member other than ${old.name} holds the leader key` },
  );
  return cluster.member(name);
}

/** Writable means accepting a write; a refused connection or a read-only server is not. */
export async function writable(member: TestMember): Promise<boolean> {
  try {
    const r = await member.query<{ w: boolean }>(
      "select not pg_is_in_recovery() and current_setting('transaction_read_only') = 'off' as w",
    );
    return r.rows[0]?.w === true;
  } catch {
    return false;
  }
}

/** Retries one insert until the member accepts it (it is a writable primary again). */
export async function waitForWrite(member: TestMember, id: number, note: string, timeout = 30_000): Promise<void> {
  await waitFor(
    async () => {
      await insertMarker(member, id, note);
      return true;
    },
    { timeout, interval: 50, message: `${member.name} accepts writes` },
  );
}
