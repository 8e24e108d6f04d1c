// Benchmark of a worker node's death under writes through the coordinator: 3 Citus groups x 2 real agents
// (ttl 10, loop_wait 2, retry_timeout 3), replicas registered as secondaries, an application writing ~50
// rows/s into group 1; group 1's primary loses its agent and PostgreSQL to kill -9, N times (alternating
// members, the dead one rejoining as a replica in between). Prints a table per run, medians and max, and JSON.
// Run: npm run bench -- worker-death [--runs 5] [--no-pause] (dynamic citus.pause_on_worker_failure off)

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { Dcs } from '../src/dcs/dcs.ts';
import type { MemberData } from '../src/dcs/types.ts';
import { errorText } from '../src/errors.ts';
import { CitusApp, memberAddress, RoutedWriter } from '../test/harness/citusApp.ts';
import {
  cleanup,
  onCleanup,
  startCluster,
  startPrimaryChecker,
  waitFor,
  waitForLeader,
  waitForReplicas,
  type TestCluster,
  type TestMember,
} from '../test/harness/index.ts';
import {
  citusClient,
  distNodes,
  expectedRows,
  otherMember,
  primaryRow,
  TIMING,
  waitForRows,
} from '../test/integration/citus/clusterSteps.ts';

const GROUPS = [0, 1, 2];
/** One write started every 20 ms: ~50 writes/s, as the published Patroni figures were taken. */
const WRITE_INTERVAL_MS = 20;
/** How long a run may take for the coordinator to name the new primary before it counts as never. */
const REPOINT_DEADLINE_MS = 60_000;
const POLL_MS = 10;

interface Run {
  killed: string;
  promoted: string;
  /** Whether pg_dist_node named the new primary within REPOINT_DEADLINE_MS of the kill. */
  repointed: boolean;
  /** Kill -> etcd's leader key names another member; null if not seen. */
  leaderKeyMs: number | null;
  /** The new leader's member key says running primary -> pg_dist_node's primary row of group 1 names it. */
  repointMs: number | null;
  /** Kill -> the first write started after the kill is acknowledged. */
  firstWriteMs: number | null;
  errors: number;
  longestWaitMs: number;
  /** Acknowledged rows (not already missing before) that the new primary does not hold. */
  lostRows: number;
}

/** When, after now, etcd first showed group 1's leader key and a running primary member key not `victim`. */
interface FailoverWatch {
  leaderAt: Promise<number>;
  primaryAt: Promise<number>;
  close(): void;
}

async function watchFailover(cluster: TestCluster, victim: string): Promise<FailoverWatch> {
  const dcs = new Dcs({
    hosts: [cluster.etcd.endpoint],
    namespace: 'service',
    scope: cluster.scope,
    group: 1,
    retryTimeout: TIMING.retryTimeout,
    ttl: TIMING.ttl,
  });
  const forget = onCleanup('close the failover watch', () => dcs.close());
  const view = await dcs.loadCluster({ allGroups: true });
  let leader: (at: number) => void = () => {};
  let primary: (at: number) => void = () => {};
  const leaderAt = new Promise<number>((resolve) => (leader = resolve));
  const primaryAt = new Promise<number>((resolve) => (primary = resolve));
  dcs.watch(view.revision, (events) => {
    const at = performance.now();
    for (const e of events) {
      if (e.group !== 1 || e.type !== 'put' || e.value === null) continue;
      if (e.name === 'leader' && e.value !== victim) leader(at);
      if (e.name.startsWith('members/') && e.name !== `members/${victim}`) {
        const data = JSON.parse(e.value) as MemberData;
        if (data.role === 'primary' && data.state === 'running') primary(at);
      }
    }
  });
  return {
    leaderAt,
    primaryAt,
    close: () => {
      dcs.close();
      forget();
    },
  };
}

/** A promise's value, or null when it has not settled by `ms` from now. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  return Promise.race([promise, new Promise<null>((resolve) => setTimeout(() => resolve(null), ms).unref())]);
}

/** Polls the coordinator every POLL_MS until group 1's primary row names `member`; null past `deadline`. */
async function repointedAt(client: pg.Client, member: TestMember, deadline: number): Promise<number | null> {
  while (performance.now() < deadline) {
    try {
      if (primaryRow(await distNodes(client), 1)?.nodeport === member.pgPort) return performance.now();
    } catch {
      // A failed read is a read that did not show it yet.
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return null;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function max(values: number[]): number | null {
  return values.length === 0 ? null : Math.max(...values);
}

const ms = (v: number | null): number | null => (v === null ? null : Math.round(v));
const cell = (v: number | null, width: number, none = '-'): string =>
  (v === null ? none : String(Math.round(v))).padStart(width);

/** The cluster whole again: a leader and a streaming replica per group, and pg_dist_node naming both. */
async function settle(cluster: TestCluster, coordinator: TestMember): Promise<TestMember> {
  const groups = [];
  for (const g of GROUPS) {
    const leader = await waitForLeader(cluster, g, { timeout: 120_000 });
    await waitForReplicas(cluster, g, { timeout: 120_000 });
    groups.push({ leader, secondaries: [otherMember(cluster, leader)] });
  }
  await waitForRows(coordinator, expectedRows(groups), 60_000);
  return groups[1]!.leader;
}

interface Measured {
  runs: Run[];
  writes: number;
  violations: number;
  /** Why the runs stopped before their number, if they did. */
  aborted: string | null;
}

async function measure(runs: number, pauseOnFailure: boolean): Promise<Measured> {
  const cluster = await startCluster({
    groups: GROUPS,
    membersPerGroup: 2,
    ...TIMING,
    logLevel: 'info',
    dcsExtra: { citus: { pause_on_worker_failure: pauseOnFailure } },
  });
  const checker = startPrimaryChecker(cluster);
  cluster.startAll();
  const coordinator = await waitForLeader(cluster, 0, { timeout: 120_000 });
  let leader = await settle(cluster, coordinator);

  // Real Citus distributes the application's table over the registered groups.
  const app = await CitusApp.detect(memberAddress(coordinator));
  await app.setup(1, [memberAddress(leader)]);
  const writer = await RoutedWriter.connect(app, memberAddress(coordinator), {
    group: 1,
    applicationName: 'worker-death-bench',
    intervalMs: WRITE_INTERVAL_MS,
  });
  writer.start();
  await waitFor(() => writer.acked.length >= 50, { timeout: 30_000, message: 'the application writes' });
  const poll = await citusClient(coordinator);

  const results: Run[] = [];
  const lost = new Set<number>();
  let aborted: string | null = null;
  for (let i = 0; i < runs; i++) {
    const victim = leader;
    const next = otherMember(cluster, victim);
    const watch = await watchFailover(cluster, victim.name);
    const errorsBefore = writer.errors.length;
    const killedAt = performance.now();
    await victim.killAll();
    const repointAt = await repointedAt(poll, next, killedAt + REPOINT_DEADLINE_MS);
    // Both keys come before the repoint; without a repoint they may never come.
    const leaderAt = await within(watch.leaderAt, repointAt === null ? 0 : 5_000);
    const primaryAt = await within(watch.primaryAt, repointAt === null ? 0 : 5_000);
    watch.close();
    const firstAck = await waitFor(() => writer.ackedSpans.find(([start]) => start >= killedAt), {
      timeout: 30_000,
      interval: POLL_MS,
      message: 'a write after the kill is acknowledged',
    }).then(
      (span) => span ?? null,
      () => null,
    );
    // Some writes on the new primary, so its rows show what the application was told.
    const count = writer.acked.length;
    await waitFor(() => writer.acked.length >= count + 50, { timeout: 30_000, message: 'writes go on' }).catch(
      () => {},
    );
    const ended = performance.now();
    const acked = writer.acked.slice();
    const have = new Set(await app.rowsOn(1, memberAddress(next)).catch(() => []));
    const missing = acked.filter((id) => !have.has(id) && !lost.has(id));
    for (const id of missing) lost.add(id);
    const run: Run = {
      killed: victim.name,
      promoted: next.name,
      repointed: repointAt !== null,
      leaderKeyMs: leaderAt === null ? null : leaderAt - killedAt,
      repointMs: repointAt === null || primaryAt === null ? null : repointAt - primaryAt,
      firstWriteMs: firstAck === null ? null : firstAck[1] - killedAt,
      errors: writer.errors.length - errorsBefore,
      longestWaitMs: writer.longestWait(killedAt, ended),
      lostRows: missing.length,
    };
    results.push(run);
    process.stderr.write(
      `worker-death run ${i + 1}/${runs}: ${run.killed} -> ${run.promoted}: leader key ${ms(run.leaderKeyMs)} ms, ` +
        `repoint ${repointAt === null ? `never within ${REPOINT_DEADLINE_MS} ms` : `${ms(run.repointMs)} ms`}, ` +
        `first write ${ms(run.firstWriteMs)} ms, ${run.errors} errors, lost ${run.lostRows}\n`,
    );
    victim.start();
    try {
      leader = await settle(cluster, coordinator);
    } catch (err) {
      aborted = `after run ${i + 1} the cluster did not settle: ${errorText(err).split('\n')[0]}`;
      break;
    }
  }
  await writer.close();
  const writes = writer.spans.length;
  const errors = writer.errors;
  if (errors.length > 0) process.stderr.write(`first errors:\n  ${errors.slice(0, 3).join('\n  ')}\n`);
  await cluster.stopAll();
  const report = await checker.stop();
  return { runs: results, writes, violations: report.violations.length, aborted };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { runs: { type: 'string', default: '5' }, 'no-pause': { type: 'boolean', default: false } },
  });
  const pauseOnFailure = !values['no-pause'];
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('usage: worker-death [--runs N] [--no-pause]');
  let result: Measured;
  try {
    result = await measure(runs, pauseOnFailure);
  } finally {
    await cleanup();
  }
  const figures = {
    leaderKeyMs: result.runs.flatMap((r) => (r.leaderKeyMs === null ? [] : [r.leaderKeyMs])),
    repointMs: result.runs.flatMap((r) => (r.repointMs === null ? [] : [r.repointMs])),
    firstWriteMs: result.runs.flatMap((r) => (r.firstWriteMs === null ? [] : [r.firstWriteMs])),
    errors: result.runs.map((r) => r.errors),
    longestWaitMs: result.runs.map((r) => r.longestWaitMs),
    lostRows: result.runs.map((r) => r.lostRows),
  };
  const never = result.runs.filter((r) => !r.repointed).length;
  console.log('run  killed  promoted  leader key ms  repoint ms  first write ms  errors  longest wait ms  lost rows');
  result.runs.forEach((r, i) =>
    console.log(
      `${String(i + 1).padStart(3)}  ${r.killed.padEnd(6)}  ${r.promoted.padEnd(8)}  ${cell(r.leaderKeyMs, 13)}  ` +
        `${cell(r.repointMs, 10, r.repointed ? '-' : 'never')}  ${cell(r.firstWriteMs, 14)}  ` +
        `${String(r.errors).padStart(6)}  ${cell(r.longestWaitMs, 15)}  ${String(r.lostRows).padStart(9)}`,
    ),
  );
  const line = (name: string, values: number[]): string =>
    `${name}: median ${cell(median(values), 0)}, max ${cell(max(values), 0)}`;
  console.log(
    [
      line('kill -> new leader key ms', figures.leaderKeyMs),
      line('new primary running -> pg_dist_node names it ms', figures.repointMs),
      line('kill -> first acknowledged write ms', figures.firstWriteMs),
      line('write errors per run', figures.errors),
      line('longest write wait ms', figures.longestWaitMs),
      line('acknowledged rows lost per run', figures.lostRows),
      `runs whose metadata never named the new primary within ${REPOINT_DEADLINE_MS / 1000} s: ${never}; ` +
        `writes ${result.writes}; two primaries seen ${result.violations}`,
      ...(result.aborted === null ? [] : [`stopped early: ${result.aborted}`]),
    ].join('\n'),
  );
  const summary = (values: number[]) => ({ median: ms(median(values)), max: ms(max(values)) });
  console.log(
    JSON.stringify({
      bench: 'worker-death',
      pauseOnWorkerFailure: pauseOnFailure,
      ttl: TIMING.ttl,
      loopWait: TIMING.loopWait,
      retryTimeout: TIMING.retryTimeout,
      writeIntervalMs: WRITE_INTERVAL_MS,
      runs: result.runs.map((r) => ({
        ...r,
        leaderKeyMs: ms(r.leaderKeyMs),
        repointMs: ms(r.repointMs),
        firstWriteMs: ms(r.firstWriteMs),
        longestWaitMs: ms(r.longestWaitMs),
      })),
      leaderKeyMs: summary(figures.leaderKeyMs),
      repointMs: summary(figures.repointMs),
      firstWriteMs: summary(figures.firstWriteMs),
      errors: summary(figures.errors),
      longestWaitMs: summary(figures.longestWaitMs),
      lostRows: summary(figures.lostRows),
      neverRepointed: never,
      writes: result.writes,
      twoPrimaries: result.violations,
      aborted: result.aborted,
    }),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
