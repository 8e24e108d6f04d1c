// Benchmark of planned worker switchovers under write load through the coordinator (DESIGN §5):
// 3 groups x 2 real agents (the Citus stand-in, or Citus when installed); an application writes to
// group 1 through the coordinator in a loop while group 1 is switched over N times (POST /switchover to
// its leader). Prints client errors, write latency during the switches (p50/p99/max), the
// switchover times and the coordinator's pause durations (GET /citus), as a table and JSON.
// Run: npm run bench -- switchover [--rounds 10] [--timing 10/2/3]

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CitusApp, memberAddress, RoutedWriter } from '../test/harness/citusApp.ts';
import {
  CITUS_DATABASE,
  cleanup,
  startCluster,
  startPrimaryChecker,
  waitFor,
  waitForLeader,
  waitForReplicas,
  type TestMember,
} from '../test/harness/index.ts';

interface Round {
  from: string;
  to: string;
  /** POST /switchover sent -> answered 200 (the new leader runs). */
  switchMs: number;
  /** Longest routed write overlapping the switch. */
  longestWriteMs: number;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { rounds: { type: 'string', default: '10' }, timing: { type: 'string', default: '10/2/3' } },
  });
  const rounds = Number(values.rounds);
  const [ttl, loopWait, retryTimeout] = String(values.timing).split('/').map(Number);
  if (
    !Number.isInteger(rounds) ||
    rounds < 1 ||
    ![ttl, loopWait, retryTimeout].every((v) => Number.isInteger(v) && v! > 0)
  ) {
    throw new Error('usage: switchover [--rounds N] [--timing ttl/loop_wait/retry_timeout]');
  }
  let result: {
    rounds: Round[];
    errors: string[];
    latencies: number[];
    writes: number;
    lost: number;
    pauses: number[];
    committed: number;
    rolledBack: number;
    violations: number;
  };
  try {
    result = await measure(rounds, { ttl: ttl!, loopWait: loopWait!, retryTimeout: retryTimeout! });
  } finally {
    await cleanup();
  }
  const { errors, latencies, pauses } = result;
  console.log('round  from    to      switchover ms  longest write ms');
  result.rounds.forEach((r, i) => {
    const cells = [
      String(i + 1).padStart(5),
      r.from.padEnd(6),
      r.to.padEnd(6),
      String(Math.round(r.switchMs)).padStart(13),
      String(Math.round(r.longestWriteMs)).padStart(16),
    ];
    console.log(cells.join('  '));
  });
  const switchMs = result.rounds.map((r) => r.switchMs);
  console.log(
    `writes ${result.writes}, client errors ${errors.length}, acknowledged rows missing ${result.lost}, ` +
      `two primaries seen ${result.violations}\n` +
      `write latency during switches: p50 ${round1(percentile(latencies, 50))} ms, ` +
      `p99 ${round1(percentile(latencies, 99))} ms, max ${round1(Math.max(0, ...latencies))} ms\n` +
      `switchover: median ${Math.round(percentile(switchMs, 50))} ms, max ${Math.round(Math.max(...switchMs))} ms\n` +
      `coordinator pauses: committed ${result.committed}, rolled back ${result.rolledBack}, ` +
      `p50 ${percentile(pauses, 50)} ms, max ${Math.max(0, ...pauses)} ms`,
  );

  for (const e of errors.slice(0, 5)) console.log(`  error: ${e}`);
  console.log(
    JSON.stringify({
      bench: 'switchover',
      ttl,
      loopWait,
      retryTimeout,
      rounds: result.rounds.length,
      writes: result.writes,
      clientErrors: errors.length,
      lostRows: result.lost,
      writeLatencyMs: {
        p50: round1(percentile(latencies, 50)),
        p99: round1(percentile(latencies, 99)),
        max: round1(Math.max(0, ...latencies)),
      },
      switchoverMs: result.rounds.map((r) => Math.round(r.switchMs)),
      longestWriteMs: result.rounds.map((r) => Math.round(r.longestWriteMs)),
      pauseMs: pauses,
      pausesCommitted: result.committed,
      pausesRolledBack: result.rolledBack,
      twoPrimaries: result.violations,
    }),
  );
}

async function measure(rounds: number, timing: { ttl: number; loopWait: number; retryTimeout: number }) {
  const cluster = await startCluster({ groups: [0, 1, 2], membersPerGroup: 2, ...timing, logLevel: 'info' });
  const checker = startPrimaryChecker(cluster);
  cluster.startAll();
  for (const g of [0, 1, 2]) {
    await waitForLeader(cluster, g, { timeout: 120_000 });
    await waitForReplicas(cluster, g, { timeout: 120_000 });
  }
  const coordinator = await waitForLeader(cluster, 0, { timeout: 10_000 });
  let leader = await waitForLeader(cluster, 1, { timeout: 10_000 });
  await waitFor(
    async () =>
      (
        await coordinator.query(
          "select 1 from pg_dist_node where groupid = 1 and noderole = 'primary' and nodeport = $1",
          [leader.pgPort],
          { database: CITUS_DATABASE },
        )
      ).rowCount === 1,
    {
      timeout: 30_000,
      message: 'group 1 is registered',
    },
  );
  // Real Citus distributes the application's table over the registered groups.
  const app = await CitusApp.detect(memberAddress(coordinator));
  await app.setup(1, [memberAddress(leader)]);

  const writer = await RoutedWriter.connect(app, memberAddress(coordinator), {
    group: 1,
    applicationName: 'switchover-bench',
  });
  writer.start();
  const { acked, errors, spans } = writer;

  const results: Round[] = [];
  const windows: Array<[number, number]> = [];
  for (let i = 0; i < rounds; i++) {
    await waitForReplicas(cluster, 1, { timeout: 60_000 });
    const to = cluster.group(1).find((m) => m !== leader) as TestMember;
    const started = performance.now();
    const res = await fetch(`${leader.apiUrl}/switchover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leader: leader.name, candidate: to.name }),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    const answered = performance.now();
    if (res.status !== 200) throw new Error(`round ${i + 1}: switchover answered ${res.status} ${text}`);
    // Writes that waited in the pause finish just after the new leader runs.
    const count = acked.length;
    await waitFor(() => acked.length >= count + 10, { timeout: 15_000, message: 'writes go on after the switchover' });
    const window: [number, number] = [started, performance.now()];
    windows.push(window);
    const longest = Math.max(0, ...spans.filter(([s, e]) => e >= window[0] && s <= window[1]).map(([s, e]) => e - s));
    results.push({ from: leader.name, to: to.name, switchMs: answered - started, longestWriteMs: longest });
    leader = to;
  }
  await writer.close();

  const latencies = spans.filter(([s, e]) => windows.some(([a, b]) => e >= a && s <= b)).map(([s, e]) => e - s);
  const have = new Set(await app.rowsOn(1, memberAddress(leader)));
  const stats = (await (await fetch(`${coordinator.apiUrl}/citus`)).json()) as {
    pauses: { durationsMs: number[]; committed: number; rolledBack: number };
  };
  await cluster.stopAll();
  const report = await checker.stop();
  return {
    rounds: results,
    errors,
    latencies,
    writes: spans.length,
    lost: acked.filter((id) => !have.has(id)).length,
    pauses: stats.pauses.durationsMs,
    committed: stats.pauses.committed,
    rolledBack: stats.pauses.rolledBack,
    violations: report.violations.length,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
