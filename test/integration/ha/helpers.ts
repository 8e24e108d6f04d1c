// Shared steps of the HA integration tests: start a three-member group under the two-primaries
// checker, write and read marker rows, and read the agents' JSON log lines.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
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

export interface RunningGroup {
  cluster: TestCluster;
  checker: PrimaryChecker;
  leader: TestMember;
  replicas: TestMember[];
}

/** Starts a group of three (by default) under the checker and waits for one leader and streaming replicas. */
export async function startGroup(opts: StartClusterOptions = {}): Promise<RunningGroup> {
  const cluster = await startCluster({ membersPerGroup: 3, ...opts });
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
  const result = await primary.query<{ tli: string }>('select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) as tli');
  return Number.parseInt(result.rows[0]?.tli ?? '', 16);
}
